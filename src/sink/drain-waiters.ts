/**
 * Callers of a sink's drain() waiting for its in-flight count to reach 0.
 * An aborted wait removes itself, so a drain given up at the shutdown
 * deadline leaves nothing behind.
 */
export class DrainWaiters {
  private waiters: Array<() => void> = [];

  /** Resolves at the next wakeAll(); rejects with the signal's reason when it aborts first. */
  next(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(signal?.reason);
      };
      this.waiters.push(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

// The global in-flight budget: bytes of lines read from files and not yet
// acknowledged by Kafka. Readers reserve before they read and wait while the
// budget is spent, so with Kafka down the files on disk are the buffer and
// memory stays flat. Waiting is the backpressure; nothing is dropped.

export class InflightBudget {
  readonly maxBytes: number;
  private used = 0;
  private waiters: Array<{ bytes: number; resolve: () => void; reject: (err: unknown) => void }> = [];

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get usedBytes(): number {
    return this.used;
  }

  get availableBytes(): number {
    return Math.max(0, this.maxBytes - this.used);
  }

  /**
   * Waits until `bytes` fit, then takes them. A request larger than the whole
   * budget is granted once nothing else is in flight, so it cannot starve.
   */
  async reserve(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.fits(bytes) && this.waiters.length === 0) {
      this.used += bytes;
      return;
    }
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason);
        this.wake();
      };
      const waiter = {
        bytes,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject,
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Adjusts a reservation after the fact: positive takes more (never waits), negative gives back. */
  adjust(deltaBytes: number): void {
    this.used += deltaBytes;
    if (deltaBytes < 0) this.wake();
  }

  release(bytes: number): void {
    this.adjust(-bytes);
  }

  private fits(bytes: number): boolean {
    return this.used + bytes <= this.maxBytes || this.used === 0;
  }

  private wake(): void {
    // FIFO: the first waiter is served first, so a large request is not
    // starved by a stream of small ones.
    while (this.waiters.length > 0) {
      const first = this.waiters[0];
      if (!first || !this.fits(first.bytes)) return;
      this.waiters.shift();
      this.used += first.bytes;
      first.resolve();
    }
  }
}

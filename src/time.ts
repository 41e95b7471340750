// Abortable waiting. Every wait in the agent takes the owner's AbortSignal so
// that shutdown never hangs on a timer.

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Resolves after `ms` or as soon as wake() is called, whichever comes first;
 * never rejects. Without `ms` only wake() (or the signal) ends the wait, so
 * an idle file costs no timer at all.
 */
export class Waker {
  private pending: { resolve: () => void; timer: NodeJS.Timeout | undefined } | undefined;
  private woken = false;

  wait(ms: number | undefined, signal?: AbortSignal): Promise<void> {
    if (this.woken || signal?.aborted) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const finish = (): void => {
        signal?.removeEventListener('abort', finish);
        if (this.pending?.timer) clearTimeout(this.pending.timer);
        this.pending = undefined;
        this.woken = false;
        resolve();
      };
      this.pending = { resolve: finish, timer: ms === undefined ? undefined : setTimeout(finish, ms) };
      signal?.addEventListener('abort', finish, { once: true });
    });
  }

  wake(): void {
    if (this.pending) this.pending.resolve();
    else this.woken = true;
  }
}

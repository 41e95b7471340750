// The global in-flight budget: memory held for lines read from files and
// not yet acknowledged by Kafka, plus unfinished last lines. It charges what
// a line really costs, not only its bytes: every line its bytes plus
// LINE_COST_BYTES of bookkeeping, every read batch BATCH_COST_BYTES (both
// measured, see docs/delivery-guarantees.md), so two million empty lines
// cost as much as they weigh. Readers size their reads to the room left and
// wait while it is spent: with Kafka down the files on disk are the buffer
// and memory stays flat. Waiting is the backpressure; nothing is dropped.
//
// Readers never block inside the budget: tryReserve() either takes the bytes
// or says no, and waitForRoom() parks the reader until acknowledgements
// freed room. Parked readers are woken together once usage falls below the
// low-water mark, so a budget that frees one batch at a time does not wake
// every reader for every batch.

/**
 * Heap bytes a line in flight costs beyond its own bytes: two numbers in its
 * batch's offset arrays with their growth slack. Measured 18-22 bytes by
 * bench/record-cost.ts (node --expose-gc); rounded up.
 */
export const LINE_COST_BYTES = 24;
/**
 * Heap bytes of one read batch in flight: the batch object, its two arrays,
 * the Buffer object of its read chunk, its ack-tracker entry and queue slot.
 * Measured 630-694 bytes for a batch of one line; rounded up.
 */
export const BATCH_COST_BYTES = 768;

export class InflightBudget {
  readonly maxBytes: number;
  /** Charged for batches handed to the sink (and reservations being read into): freed by acknowledgements. */
  private inflight = 0;
  /** Charged for unfinished last lines held by readers: freed when the line completes or the file closes. */
  private held = 0;
  private waiters: Array<() => void> = [];

  constructor(maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new RangeError('maxBytes must be a positive integer');
    this.maxBytes = maxBytes;
  }

  get usedBytes(): number {
    return this.inflight + this.held;
  }

  get inflightBytes(): number {
    return this.inflight;
  }

  get heldBytes(): number {
    return this.held;
  }

  get availableBytes(): number {
    return Math.max(0, this.maxBytes - this.usedBytes);
  }

  /** Readers parked in waitForRoom(). */
  get waitingCount(): number {
    return this.waiters.length;
  }

  /**
   * Takes `bytes` if they fit. When nothing is in flight the request is
   * granted whatever its size: no acknowledgement could ever free room, so
   * refusing would deadlock (a request larger than the budget, or readers
   * whose unfinished lines fill it).
   */
  tryReserve(bytes: number): boolean {
    if (this.usedBytes + bytes <= this.maxBytes || this.inflight === 0) {
      this.inflight += bytes;
      return true;
    }
    return false;
  }

  /**
   * Settles a reservation once the read is split into lines: the batches
   * handed to the sink cost `batchBytes`, and the reader's unfinished line
   * changed by `heldDelta`. Never waits.
   */
  settle(reservedBytes: number, batchBytes: number, heldDelta: number): void {
    this.inflight += batchBytes - reservedBytes;
    this.held += heldDelta;
    if (this.inflight < 0) this.inflight = 0;
    if (this.held < 0) this.held = 0;
    this.maybeWake();
  }

  /** An acknowledged (or abandoned) batch gives its bytes back. */
  release(bytes: number): void {
    this.inflight -= bytes;
    if (this.inflight < 0) this.inflight = 0;
    this.maybeWake();
  }

  /** A reader dropped its unfinished line (truncation, close). */
  releaseHeld(bytes: number): void {
    this.held -= bytes;
    if (this.held < 0) this.held = 0;
    this.maybeWake();
  }

  /**
   * Resolves once usage is below half the budget, or nothing is in flight
   * (at once if so already), or `signal` aborts. Never rejects: the caller
   * re-checks what it was waiting for.
   */
  waitForRoom(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted || this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(done);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve();
      };
      this.waiters.push(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private hasRoom(): boolean {
    return this.usedBytes <= this.maxBytes / 2 || this.inflight === 0;
  }

  private maybeWake(): void {
    if (this.waiters.length === 0 || !this.hasRoom()) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

// A Sink for unit tests of our own reader logic; Kafka itself is never
// faked in integration tests. Two modes:
// - timed (default): acknowledges every batch after a random short delay,
//   out of order, like requests to different partitions complete;
// - manual: acknowledges nothing by itself; the test acknowledges the
//   batches it chooses, in the order it chooses (model tests, no timers).

import type { LineBatch } from '../../src/sink/line-batch.ts';
import type { Sink } from '../../src/sink/sink.ts';

export class FakeSink implements Sink {
  /** Every batch sent, in send order. */
  readonly received: LineBatch[] = [];
  /** Batches sent and not acknowledged yet. */
  readonly unacked = new Set<LineBatch>();
  private closed = false;
  private readonly maxAckDelayMs: number;
  private readonly random: () => number;
  private readonly manual: boolean;
  /** While true (timed mode), nothing is acknowledged (a broker outage). */
  paused = false;
  private held: LineBatch[] = [];
  private readonly sentValues: string[] = [];

  constructor(options: { maxAckDelayMs?: number; random?: () => number; manual?: boolean } = {}) {
    this.maxAckDelayMs = options.maxAckDelayMs ?? 5;
    this.random = options.random ?? Math.random;
    this.manual = options.manual ?? false;
  }

  get pendingLines(): number {
    let n = 0;
    for (const b of this.unacked) n += b.count;
    return n;
  }

  send(batch: LineBatch): void {
    if (this.closed) throw new Error('closed');
    this.received.push(batch);
    for (let i = 0; i < batch.count; i++) this.sentValues.push(batch.value(i).toString('latin1'));
    this.unacked.add(batch);
    if (this.manual) return;
    if (this.paused) {
      this.held.push(batch);
      return;
    }
    this.schedule(batch);
  }

  /** Timed mode: the outage is over. */
  resume(): void {
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const b of held) this.schedule(b);
  }

  /** Acknowledges one batch now (manual mode, or early in timed mode). */
  ack(batch: LineBatch): void {
    if (!this.unacked.delete(batch)) return;
    batch.ackedLines = batch.count;
    batch.owner.onBatchAcked(batch);
  }

  /** Forgets unacknowledged batches without acknowledging them (a crash). */
  dropUnacked(): LineBatch[] {
    const dropped = [...this.unacked];
    this.unacked.clear();
    return dropped;
  }

  private schedule(batch: LineBatch): void {
    setTimeout(() => this.ack(batch), Math.floor(this.random() * this.maxAckDelayMs));
  }

  async drain(): Promise<void> {
    while (this.unacked.size > 0) await new Promise((r) => setTimeout(r, 2));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /**
   * Every line value sent, in send order (latin1, so binary survives). Taken
   * at send, as a real sink encodes them: once acknowledged, a batch's read
   * buffer is read into again.
   */
  values(): string[] {
    return [...this.sentValues];
  }
}

// A Sink for unit tests of our own reader logic: records what it was given
// and acknowledges it after a random short delay, out of order, like
// batches to different partitions do. Kafka itself is never faked in
// integration tests.

import type { OutRecord, Sink } from '../../src/sink/sink.ts';

export class FakeSink implements Sink {
  readonly received: OutRecord[] = [];
  private pending = 0;
  private closed = false;
  private readonly maxAckDelayMs: number;
  private readonly random: () => number;
  /** While true, nothing is acknowledged (a broker outage). */
  paused = false;
  private held: OutRecord[] = [];

  constructor(options: { maxAckDelayMs?: number; random?: () => number } = {}) {
    this.maxAckDelayMs = options.maxAckDelayMs ?? 5;
    this.random = options.random ?? Math.random;
  }

  get pendingCount(): number {
    return this.pending;
  }

  send(record: OutRecord): void {
    if (this.closed) throw new Error('closed');
    this.received.push(record);
    this.pending++;
    if (this.paused) {
      this.held.push(record);
      return;
    }
    this.schedule(record);
  }

  resume(): void {
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const r of held) this.schedule(r);
  }

  private schedule(record: OutRecord): void {
    setTimeout(
      () => {
        this.pending--;
        record.onAck();
      },
      Math.floor(this.random() * this.maxAckDelayMs),
    );
  }

  async drain(): Promise<void> {
    while (this.pending > 0) await new Promise((r) => setTimeout(r, 2));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  values(): string[] {
    return this.received.map((r) => r.value.toString('latin1'));
  }
}

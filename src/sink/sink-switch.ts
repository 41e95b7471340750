// SinkSwitch: the sink readers talk to, whatever producer is behind it. A
// change of the `kafka` configuration section replaces the producer while
// the agent runs, without losing or reordering lines:
//
//   1. new batches go to the next sink, which queues them without sending;
//   2. the current sink drains: everything it holds is acknowledged;
//   3. it closes, and the next sink starts, so no line of a file can
//      overtake an earlier one held by the old producer.
//
// If the current sink cannot drain in time (typically: the change fixes
// brokers it cannot reach), it hands over what it holds; the next sink
// sends those first, then what queued meanwhile. Lines the old producer had
// sent but not heard back about may then arrive twice: at-least-once, as
// after any retried request.

import type pino from 'pino';
import type { LineBatch } from './line-batch.ts';
import type { ManagedSink, Sink } from './sink.ts';

export class SinkSwitch implements Sink {
  private current: ManagedSink;
  private next: ManagedSink | undefined;
  private switching: Promise<void> | undefined;
  private readonly logger: pino.Logger;

  constructor(initial: ManagedSink, logger: pino.Logger) {
    this.current = initial;
    this.logger = logger;
  }

  get active(): ManagedSink {
    return this.current;
  }

  get pendingLines(): number {
    return this.current.pendingLines + (this.next?.pendingLines ?? 0);
  }

  start(): void {
    this.current.start();
  }

  send(batch: LineBatch): void {
    (this.next ?? this.current).send(batch);
  }

  /**
   * Replaces the producer (see the module comment). Resolves once the next
   * sink sends. One replacement at a time: a later one waits for this one.
   */
  async replace(next: ManagedSink, drainTimeoutMs: number): Promise<{ handedOver: number }> {
    while (this.switching) await this.switching;
    let handedOver = 0;
    const run = (async () => {
      const old = this.current;
      this.next = next;
      try {
        await old.drain(AbortSignal.timeout(drainTimeoutMs));
      } catch {
        const batches = old.handOver();
        handedOver = batches.length;
        next.resume(batches);
        this.logger.warn(
          { drainTimeoutMs, batches: batches.length },
          'the previous Kafka producer did not drain in time; the new one sends what it held (lines it had sent may arrive twice)',
        );
      }
      await old.close(1_000);
      this.current = next;
      this.next = undefined;
      next.start();
    })();
    this.switching = run;
    try {
      await run;
    } finally {
      this.switching = undefined;
    }
    return { handedOver };
  }

  async drain(signal?: AbortSignal): Promise<void> {
    if (this.switching) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(signal?.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        void this.switching?.finally(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
    await this.current.drain(signal);
  }

  async close(timeoutMs?: number): Promise<void> {
    await Promise.all([this.current.close(timeoutMs), this.next?.close(timeoutMs)]);
  }
}

// The boundary between inputs and the Kafka client: readers hand LineBatches
// to a Sink and learn, through the batch owner, when the broker has
// acknowledged them. The client behind it can be swapped without touching
// inputs, and a running agent swaps sinks when the `kafka` section of its
// configuration changes (sink-switch.ts).

import type { LineBatch } from './line-batch.ts';

export interface Sink {
  /** Queues a batch; never blocks. Callers bound what they queue with the in-flight budget. */
  send(batch: LineBatch): void;
  /** Resolves once every batch queued so far is acknowledged, or rejects when `signal` aborts. */
  drain(signal?: AbortSignal): Promise<void>;
  /** Lines queued or in flight. */
  readonly pendingLines: number;
  /** Stops sending and releases connections; returns within `timeoutMs` whatever the broker does. Idempotent. */
  close(timeoutMs?: number): Promise<void>;
}

/** A sink the agent starts, and can replace while running. */
export interface ManagedSink extends Sink {
  /** Starts sending what is queued (batches sent before start() wait). */
  start(): void;
  /**
   * Stops sending and gives up every batch not fully acknowledged, oldest
   * first, with its acknowledged-line count reset: this sink never
   * acknowledges anything afterwards, so the taker may resend them whole
   * (lines the broker already had may then arrive twice).
   */
  handOver(): LineBatch[];
  /** Takes batches handed over by a previous sink, ahead of anything queued since. */
  resume(batches: LineBatch[]): void;
  status(): unknown;
}

// The boundary between inputs and the Kafka client: readers hand LineBatches
// to a Sink and learn, through the batch owner, when the broker has
// acknowledged them. The client behind it (kafkajs today) can be swapped
// without touching inputs.

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

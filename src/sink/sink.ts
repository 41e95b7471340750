// The boundary between inputs and the Kafka client: inputs hand records to a
// Sink and learn, through onAck, when the broker has acknowledged them. The
// client behind it (kafkajs today) can be swapped without touching inputs.

export interface OutRecord {
  readonly topic: string;
  readonly key: string;
  value: Buffer;
  headers?: Record<string, string>;
  /** Called once, after the broker acknowledged the record (or sent with acks=0). */
  readonly onAck: () => void;
}

export interface Sink {
  /** Queues a record; never blocks. Callers bound what they queue with the in-flight budget. */
  send(record: OutRecord): void;
  /** Resolves once every record queued so far is acknowledged, or rejects when `signal` aborts. */
  drain(signal?: AbortSignal): Promise<void>;
  /** Records queued or in flight. */
  readonly pendingCount: number;
  close(): Promise<void>;
}

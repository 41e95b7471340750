// KafkaSink: the one producer of the agent. It owns the kafkajs client,
// batches queued records, sends one batch at a time and acknowledges records
// only after the broker did.
//
// Why one batch at a time: a retried batch can then never overtake a later
// one, so lines of a file keep their order within a partition without
// relying on kafkajs's experimental idempotence; a 1 MiB batch per round trip
// keeps the pipe full on any network a sidecar lives on.
//
// Delivery is retried forever with capped backoff: a broker outage is
// backpressure (readers wait on the in-flight budget), never a drop and never
// an exit. A batch the broker rejects as too large is split; a single record
// too large is truncated, marked with the header `logagent.truncated` and
// counted.

import type { Admin, Kafka, KafkaJSError, logCreator, Message, Producer } from 'kafkajs';
import type pino from 'pino';
import type { KafkaConfig } from '../config/config.ts';
import { errorMessage } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { compressionType, registerCodecs } from './codecs.ts';
import kafkajs from './kafkajs.ts';
import { createPartitioner } from './partitioner.ts';
import type { OutRecord, Sink } from './sink.ts';
import { sleep } from '../time.ts';

export interface KafkaSinkOptions {
  config: KafkaConfig;
  logger: pino.Logger;
  metrics: Metrics;
}

const MAX_BATCH_MESSAGES = 20_000;
/** Per-record bytes besides key and value in a v2 record batch (length, attributes, deltas, header count), rounded up. */
const RECORD_OVERHEAD_BYTES = 24;

export class KafkaSink implements Sink {
  private readonly config: KafkaConfig;
  private readonly logger: pino.Logger;
  private readonly metrics: Metrics;
  private readonly kafka: Kafka;
  private producer: Producer;
  private connected = false;
  private readonly ensuredTopics = new Set<string>();

  private queue: OutRecord[] = [];
  /** Estimated encoded size of each queued record, parallel to `queue`: computed once per record. */
  private queueSizes: number[] = [];
  private queueHead = 0;
  /** Byte length of each key: keys are file paths, the same for every line of a file. */
  private readonly keyBytes = new Map<string, number>();
  private queuedBytes = 0;
  private inflightCount = 0;
  private wake: (() => void) | undefined;
  private drainWaiters: Array<() => void> = [];
  private readonly stop = new AbortController();
  private loopDone: Promise<void> | undefined;
  private closed = false;
  private lastErrorLogAt = 0;
  private failing = false;

  constructor(options: KafkaSinkOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.metrics = options.metrics;
    registerCodecs();
    this.kafka = new kafkajs.Kafka({
      clientId: this.config.clientId,
      brokers: [...this.config.brokers],
      connectionTimeout: this.config.connectionTimeoutMs,
      requestTimeout: this.config.requestTimeoutMs,
      // Our own loop retries forever; kafkajs retries briefly inside one attempt.
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
      logCreator: kafkaLogCreator(this.logger),
    });
    this.producer = this.createProducer();
  }

  /** True while deliveries fail (broker unreachable, topic missing, ...). */
  get isFailing(): boolean {
    return this.failing;
  }

  get pendingCount(): number {
    return this.queue.length - this.queueHead + this.inflightCount;
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  send(record: OutRecord): void {
    if (this.closed) throw new Error('KafkaSink is closed');
    const size = this.recordBytes(record);
    this.queue.push(record);
    this.queueSizes.push(size);
    this.queuedBytes += size;
    this.wake?.();
  }

  async drain(signal?: AbortSignal): Promise<void> {
    while (this.pendingCount > 0) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const done = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = (): void => {
          this.drainWaiters = this.drainWaiters.filter((w) => w !== done);
          reject(signal?.reason);
        };
        this.drainWaiters.push(done);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  /** Stops sending (abandoning unacknowledged records) and disconnects. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop.abort(new Error('sink closed'));
    this.wake?.();
    await this.loopDone;
    await this.producer.disconnect().catch(() => undefined);
  }

  private recordBytes(record: OutRecord): number {
    let key = this.keyBytes.get(record.key);
    if (key === undefined) {
      if (this.keyBytes.size >= 10_000) this.keyBytes.clear();
      key = Buffer.byteLength(record.key);
      this.keyBytes.set(record.key, key);
    }
    let headers = 0;
    if (record.headers) for (const [k, v] of Object.entries(record.headers)) headers += k.length + v.length + 4;
    return record.value.length + key + headers + RECORD_OVERHEAD_BYTES;
  }

  private createProducer(): Producer {
    const producer = this.kafka.producer({
      createPartitioner: createPartitioner(this.config.partitioner, this.config.partition),
      idempotent: this.config.idempotent,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: { retries: this.config.idempotent ? Number.MAX_SAFE_INTEGER : 2, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    producer.on(producer.events.DISCONNECT, () => {
      this.connected = false;
    });
    return producer;
  }

  private async loop(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      if (this.queue.length === this.queueHead) {
        this.notifyDrained();
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      if (this.config.lingerMs > 0 && this.queuedBytes < this.config.batchMaxBytes) {
        await sleep(this.config.lingerMs, signal).catch(() => undefined);
      }
      const batch = this.takeBatch();
      this.inflightCount = batch.length;
      try {
        await this.deliver(batch, signal);
      } catch (err) {
        if (!signal.aborted) throw err;
      } finally {
        this.inflightCount = 0;
      }
    }
  }

  private notifyDrained(): void {
    if (this.pendingCount > 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private takeBatch(): OutRecord[] {
    const batch: OutRecord[] = [];
    let bytes = 0;
    while (this.queueHead < this.queue.length && batch.length < MAX_BATCH_MESSAGES) {
      const record = this.queue[this.queueHead] as OutRecord;
      const size = this.queueSizes[this.queueHead] as number;
      if (batch.length > 0 && bytes + size > this.config.batchMaxBytes) break;
      batch.push(record);
      bytes += size;
      this.queueHead++;
    }
    this.queuedBytes -= bytes;
    if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueSizes = this.queueSizes.slice(this.queueHead);
      this.queueHead = 0;
    }
    return batch;
  }

  /** Sends a batch until the broker acknowledges it; only `signal` ends the attempts. */
  private async deliver(batch: OutRecord[], signal: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      try {
        await this.ensureReady(batch);
        await this.producer.sendBatch({
          topicMessages: groupByTopic(batch),
          acks: acksValue(this.config.acks),
          timeout: this.config.requestTimeoutMs,
          compression: compressionType(this.config.compression),
        });
        this.metrics.kafkaUp.set(1);
        this.failing = false;
        if (attempt > 1) this.logger.info({ attempts: attempt, messages: batch.length }, 'kafka delivery recovered');
        for (const record of batch) record.onAck();
        this.metrics.linesAcked.inc({}, batch.length);
        return;
      } catch (err) {
        if (signal.aborted) throw err;
        if (isTooLarge(err)) {
          await this.deliverTooLarge(batch, signal);
          return;
        }
        this.metrics.sendErrors.inc();
        this.metrics.kafkaUp.set(0);
        this.failing = true;
        const backoffMs = Math.min(this.config.retryMaxBackoffMs, 100 * 2 ** Math.min(attempt, 16));
        this.logDeliveryError(err, attempt, batch.length, backoffMs);
        if (attempt % 3 === 0) await this.resetProducer();
        await sleep(backoffMs * (0.8 + Math.random() * 0.4), signal);
      }
    }
  }

  private async deliverTooLarge(batch: OutRecord[], signal: AbortSignal): Promise<void> {
    this.metrics.messagesTooLarge.inc();
    if (batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      this.logger.warn({ messages: batch.length }, 'kafka rejected a batch as too large; splitting it');
      await this.deliver(batch.slice(0, half), signal);
      await this.deliver(batch.slice(half), signal);
      return;
    }
    const record = batch[0] as OutRecord;
    const keep = Math.floor(record.value.length * 0.75);
    this.logger.warn(
      { key: record.key, bytes: record.value.length, keptBytes: keep },
      'kafka rejected a message as too large; truncating it',
    );
    record.value = record.value.subarray(0, keep);
    record.headers = { ...record.headers, 'logagent.truncated': 'true' };
    this.metrics.linesTruncated.inc({ reason: 'broker' });
    await this.deliver(batch, signal);
  }

  private logDeliveryError(err: unknown, attempt: number, messages: number, backoffMs: number): void {
    // The first failure and then one line every 30 s: an outage of hours must
    // not flood the log, but must stay visible.
    const now = Date.now();
    if (attempt === 1 || now - this.lastErrorLogAt > 30_000) {
      this.lastErrorLogAt = now;
      this.logger.error(
        { err: errorMessage(err), errorType: (err as KafkaJSError).name, attempt, messages, backoffMs },
        'kafka delivery failed; retrying (lines wait on disk, nothing is dropped)',
      );
    }
  }

  private async resetProducer(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
    this.connected = false;
    this.producer = this.createProducer();
  }

  private async ensureReady(batch: OutRecord[]): Promise<void> {
    if (!this.connected) {
      await this.producer.connect();
      this.connected = true;
    }
    const topics = new Set(batch.map((r) => r.topic));
    for (const topic of topics) {
      if (!this.ensuredTopics.has(topic)) {
        await this.ensureTopic(topic);
        this.ensuredTopics.add(topic);
      }
    }
  }

  /**
   * A missing topic is created when KAFKA_TOPIC_CREATE allows it; otherwise
   * the error names the topic and the setting, and delivery keeps retrying so
   * that an operator can create it without restarting the agent.
   */
  private async ensureTopic(topic: string): Promise<void> {
    const admin: Admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = await admin.listTopics();
      if (existing.includes(topic)) return;
      if (!this.config.topicCreate) {
        throw new Error(`topic "${topic}" does not exist and KAFKA_TOPIC_CREATE is false; create the topic`);
      }
      let replicationFactor = this.config.topicReplicationFactor;
      if (replicationFactor === 0) {
        const cluster = await admin.describeCluster();
        replicationFactor = Math.min(3, cluster.brokers.length);
      }
      this.logger.info({ topic, partitions: this.config.topicPartitions, replicationFactor }, 'creating topic');
      try {
        await admin.createTopics({
          topics: [{ topic, numPartitions: this.config.topicPartitions, replicationFactor }],
          waitForLeaders: true,
        });
      } catch (err) {
        if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

function acksValue(acks: KafkaConfig['acks']): number {
  return acks === 'all' ? -1 : Number(acks);
}

function groupByTopic(batch: OutRecord[]): Array<{ topic: string; messages: Message[] }> {
  const byTopic = new Map<string, Message[]>();
  for (const record of batch) {
    let messages = byTopic.get(record.topic);
    if (!messages) byTopic.set(record.topic, (messages = []));
    messages.push(
      record.headers === undefined
        ? { key: record.key, value: record.value }
        : { key: record.key, value: record.value, headers: record.headers },
    );
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

function isTooLarge(err: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (typeof e === 'object' && e !== null && !seen.has(e)) {
    seen.add(e);
    const type = (e as { type?: unknown }).type;
    if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') return true;
    e = (e as { cause?: unknown; originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}

/** kafkajs logs through pino at debug level: our own loop reports what matters, once, clearly. */
function kafkaLogCreator(logger: pino.Logger): logCreator {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ log }) => {
      const { message, ...extra } = log;
      child.debug(extra, message);
    };
}

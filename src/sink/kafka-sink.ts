// KafkaSink: the one producer of the agent. It owns the kafkajs client,
// takes LineBatches from readers, sends produce requests one at a time and
// acknowledges a batch to its owner only once the broker acknowledged every
// line of it.
//
// Why one request at a time: a retried request can then never overtake a
// later one, so lines of a file keep their order within a partition without
// relying on kafkajs's experimental idempotence; a 1 MiB request per round
// trip keeps the pipe full on any network a sidecar lives on.
//
// Delivery is retried forever with capped backoff: a broker outage is
// backpressure (readers wait on the in-flight budget), never a drop and
// never an exit. A request the broker rejects as too large is split; a
// single line too large is cut, marked with the header `logagent.truncated`
// and counted.
//
// Every call into kafkajs runs under our own deadline: kafkajs's request
// timeout is off (it polls every connection every 100 ms to enforce it, and
// its disconnect() waits for pending requests, so a broker that accepts
// connections and never answers could hold a shutdown for minutes).
// Instead we track the client's sockets (its socketFactory is public API):
// past a deadline they are destroyed, which fails whatever kafkajs was
// waiting for, and close() destroys them all, so no connection outlives the
// sink.
//
// TLS and SASL come from one credentials snapshot (credentials.ts), mapped
// to kafkajs's `ssl` and `sasl` options; new credentials mean a new sink.

import net from 'node:net';
import tls from 'node:tls';
import type { Admin, Kafka, KafkaJSError, logCreator, Message, Producer } from 'kafkajs';
import type pino from 'pino';
import type { KafkaConfig } from '../config/config.ts';
import { KafkaTimeoutError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { sleep } from '../time.ts';
import { AuthFailures } from './auth-failures.ts';
import { compressionType, registerCodecs } from './codecs.ts';
import { kafkajsSecurity, PLAINTEXT, type KafkaCredentials } from './credentials.ts';
import kafkajs from './kafkajs.ts';
import type { LineBatch } from './line-batch.ts';
import { DrainWaiters } from './drain-waiters.ts';
import { createPartitioner } from './partitioner.ts';
import type { ManagedSink } from './sink.ts';

export interface KafkaSinkOptions {
  config: KafkaConfig;
  logger: pino.Logger;
  metrics: Metrics;
  /** TLS and SASL, read from the files the configuration names; none by default. */
  credentials?: KafkaCredentials;
  /** The producer this one replaces could not authenticate (its recovery is then logged). */
  authFailing?: boolean;
}

export interface KafkaStatus {
  readonly connected: boolean;
  readonly failing: boolean;
  /** The last failure was an authentication failure (SASL or a TLS certificate) and nothing succeeded since. */
  readonly authFailing: boolean;
  readonly lastError: string | undefined;
  readonly lastErrorAt: string | undefined;
  readonly lastAckAt: string | undefined;
  readonly pendingLines: number;
}

const MAX_REQUEST_MESSAGES = 20_000;
/** TCP keepalive probes on broker connections (kafkajs's own default). */
const KEEP_ALIVE_DELAY_MS = 60_000;

/** A run of lines of one batch inside one produce request. */
interface Part {
  readonly batch: LineBatch;
  readonly from: number;
  readonly to: number;
}

export class KafkaSink implements ManagedSink {
  private readonly config: KafkaConfig;
  private readonly logger: pino.Logger;
  private readonly metrics: Metrics;
  private readonly kafka: Kafka;
  private readonly sockets = new Set<net.Socket>();
  private producer: Producer;
  private connected = false;
  private readonly ensuredTopics = new Set<string>();

  /** Batches not yet fully taken into requests; slots before queueHead are cleared at once so a sent read buffer is not kept alive by the queue. */
  private queue: Array<LineBatch | undefined> = [];
  private queueHead = 0;
  /** Lines of queue[queueHead] already taken into requests. */
  private headLine = 0;
  private queuedLines = 0;
  private queuedBytes = 0;
  private inflightLines = 0;
  private wake: (() => void) | undefined;
  private readonly drainWaiters = new DrainWaiters();
  private readonly stop = new AbortController();
  private loopDone: Promise<void> | undefined;
  private closed = false;
  private handedOver = false;
  /** Parts of the request in flight (handOver() gives their batches back). */
  private inflightParts: Part[] = [];
  private lastErrorLogAt = 0;
  private failing = false;
  private lastError: { message: string; at: number } | undefined;
  private lastAckAt: number | undefined;
  private readonly auth: AuthFailures;

  constructor(options: KafkaSinkOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.metrics = options.metrics;
    const credentials = options.credentials ?? PLAINTEXT;
    this.auth = new AuthFailures(this.logger, this.metrics, credentials, { failing: options.authFailing ?? false });
    registerCodecs();
    this.kafka = new kafkajs.Kafka({
      clientId: this.config.clientId,
      brokers: [...this.config.brokers],
      ...kafkajsSecurity(credentials),
      connectionTimeout: this.config.connectionTimeoutMs,
      requestTimeout: this.config.requestTimeoutMs,
      enforceRequestTimeout: false,
      socketFactory: ({ host, port, ssl, onConnect }) => this.connect(host, port, ssl, onConnect),
      // Our own loop retries forever; kafkajs retries briefly inside one attempt.
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
      logCreator: kafkaLogCreator(this.logger),
      // kafkajs's own debug lines only when ours are asked for: they are one per request.
      logLevel: this.logger.isLevelEnabled('debug') ? kafkajs.logLevel.DEBUG : kafkajs.logLevel.INFO,
    });
    this.producer = this.createProducer();
  }

  /** True while deliveries fail (broker unreachable, topic missing, ...). */
  get isFailing(): boolean {
    return this.failing;
  }

  get pendingLines(): number {
    return this.queuedLines + this.inflightLines;
  }

  status(): KafkaStatus {
    return {
      connected: this.connected,
      failing: this.failing,
      authFailing: this.auth.failing,
      lastError: this.lastError?.message,
      lastErrorAt: this.lastError ? new Date(this.lastError.at).toISOString() : undefined,
      lastAckAt: this.lastAckAt === undefined ? undefined : new Date(this.lastAckAt).toISOString(),
      pendingLines: this.pendingLines,
    };
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  send(batch: LineBatch): void {
    if (this.closed) throw new Error('KafkaSink is closed');
    this.queue.push(batch);
    this.queuedLines += batch.count;
    this.queuedBytes += batch.chargedBytes;
    this.wake?.();
  }

  async drain(signal?: AbortSignal): Promise<void> {
    while (this.pendingLines > 0) {
      signal?.throwIfAborted();
      await this.drainWaiters.next(signal);
    }
  }

  handOver(): LineBatch[] {
    this.handedOver = true;
    this.stop.abort(new Error('sink handed over'));
    this.wake?.();
    const batches: LineBatch[] = [];
    const seen = new Set<LineBatch>();
    const take = (batch: LineBatch | undefined): void => {
      if (!batch || seen.has(batch) || batch.ackedLines === batch.count) return;
      seen.add(batch);
      batch.ackedLines = 0;
      batches.push(batch);
    };
    for (const part of this.inflightParts) take(part.batch);
    for (let i = this.queueHead; i < this.queue.length; i++) take(this.queue[i]);
    this.queue = [];
    this.queueHead = 0;
    this.headLine = 0;
    this.queuedLines = 0;
    this.queuedBytes = 0;
    this.inflightParts = [];
    this.inflightLines = 0;
    return batches;
  }

  resume(batches: LineBatch[]): void {
    // Before start(), nothing of the queue was taken into a request yet.
    if (this.loopDone) throw new Error('resume() must come before start()');
    if (batches.length === 0) return;
    this.queue = [...batches, ...this.queue.slice(this.queueHead)];
    this.queueHead = 0;
    this.headLine = 0;
    for (const b of batches) {
      this.queuedLines += b.count;
      this.queuedBytes += b.chargedBytes;
    }
    this.wake?.();
  }

  /**
   * Stops sending (what is unacknowledged stays unacknowledged: its lines are
   * read again after a restart) and releases every connection. Returns within
   * `timeoutMs` plus a few milliseconds whatever the broker does. Idempotent.
   */
  async close(timeoutMs = 2_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop.abort(new Error('sink closed'));
    this.wake?.();
    await withDeadline(this.loopDone ?? Promise.resolve(), timeoutMs).catch(() => undefined);
    // A clean disconnect when the broker answers (kafkajs's disconnect waits
    // for requests in flight, so not while deliveries fail); either way no
    // socket survives.
    if (this.failing || this.inflightLines > 0) this.destroySockets(new Error('sink closed'));
    else await withDeadline(this.producer.disconnect(), Math.min(timeoutMs, 1_000)).catch(() => undefined);
    this.destroySockets(new Error('sink closed'));
  }

  private connect(host: string, port: number, ssl: tls.ConnectionOptions | undefined, onConnect: () => void): net.Socket {
    const socket = ssl
      ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
      : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.closed) socket.destroy(new Error('sink closed'));
    return socket;
  }

  private destroySockets(reason: Error): void {
    for (const socket of this.sockets) socket.destroy(reason);
    this.sockets.clear();
    this.connected = false;
  }

  /** Runs a kafkajs call under our deadline and the stop signal; past the deadline its connections are destroyed. */
  private async bounded<T>(what: string, call: () => Promise<T>, signal: AbortSignal): Promise<T> {
    const timeoutMs = this.config.requestTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new KafkaTimeoutError(what, timeoutMs);
        this.destroySockets(err);
        reject(err);
      }, timeoutMs);
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    const attempt = call();
    attempt.catch(() => undefined); // settled after the guard won: nothing to report
    try {
      return await Promise.race([attempt, guard]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  private createProducer(): Producer {
    const producer = this.kafka.producer({
      createPartitioner: createPartitioner(this.config.partitioner, this.config.partition),
      idempotent: this.config.idempotent && this.config.acks === 'all',
      allowAutoTopicCreation: false,
      retry: {
        retries: this.config.idempotent && this.config.acks === 'all' ? Number.MAX_SAFE_INTEGER : 2,
        initialRetryTime: 100,
        maxRetryTime: 1_000,
      },
    });
    producer.on(producer.events.DISCONNECT, () => {
      this.connected = false;
    });
    return producer;
  }

  private async loop(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      if (this.queuedLines === 0) {
        this.notifyDrained();
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      if (this.config.lingerMs > 0 && this.queuedBytes < this.config.batchMaxBytes) {
        await sleep(this.config.lingerMs, signal).catch(() => undefined);
        if (signal.aborted) break;
      }
      const parts = this.takeRequest();
      const lines = parts.reduce((n, p) => n + p.to - p.from, 0);
      this.inflightLines = lines;
      this.inflightParts = parts;
      try {
        await this.deliver(parts, signal);
      } catch (err) {
        if (!signal.aborted) throw err;
      } finally {
        if (!this.handedOver) {
          this.inflightLines = 0;
          this.inflightParts = [];
        }
      }
    }
  }

  private notifyDrained(): void {
    if (this.pendingLines > 0) return;
    this.drainWaiters.wakeAll();
  }

  /** Takes lines from the queue, in order, up to the request limits; a batch may be split across requests. */
  private takeRequest(): Part[] {
    const parts: Part[] = [];
    let bytes = 0;
    let lines = 0;
    while (this.queueHead < this.queue.length && lines < MAX_REQUEST_MESSAGES) {
      const batch = this.queue[this.queueHead] as LineBatch;
      const from = this.headLine;
      let to = from;
      while (to < batch.count && lines < MAX_REQUEST_MESSAGES) {
        const size = batch.recordSizeBound(to);
        if (lines > 0 && bytes + size > this.config.batchMaxBytes) break;
        bytes += size;
        lines++;
        to++;
      }
      if (to > from) parts.push({ batch, from, to });
      if (to < batch.count) {
        this.headLine = to;
        break;
      }
      this.queue[this.queueHead] = undefined;
      this.queueHead++;
      this.headLine = 0;
      this.queuedBytes -= batch.chargedBytes;
    }
    this.queuedLines -= lines;
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return parts;
  }

  /** Sends lines until the broker acknowledges them; only `signal` ends the attempts. */
  private async deliver(parts: Part[], signal: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      const started = performance.now();
      try {
        await this.ensureReady(parts, signal);
        const request = buildRequest(parts);
        await this.bounded(
          'produce request',
          () =>
            this.producer.sendBatch({
              topicMessages: request.topicMessages,
              acks: acksValue(this.config.acks),
              timeout: this.config.requestTimeoutMs,
              compression: compressionType(this.config.compression),
            }),
          signal,
        );
        this.metrics.requestDuration.observe((performance.now() - started) / 1000);
        this.metrics.batchRecords.observe(request.records);
        this.metrics.batchBytes.observe(request.bytes);
        this.metrics.kafkaUp.set(1);
        this.failing = false;
        this.auth.succeeded();
        if (attempt > 1) this.logger.info({ attempts: attempt, messages: request.records }, 'kafka delivery recovered');
        this.acknowledge(parts, request.records);
        return;
      } catch (err) {
        if (signal.aborted) throw err;
        this.metrics.requestDuration.observe((performance.now() - started) / 1000);
        if (isTooLarge(err)) {
          await this.deliverTooLarge(parts, signal);
          return;
        }
        this.metrics.sendErrors.inc();
        this.metrics.kafkaUp.set(0);
        this.failing = true;
        const authentication = err instanceof Error ? this.auth.record(err, 'produce request') : undefined;
        this.lastError = { message: authentication ?? (err as Error).message ?? String(err), at: Date.now() };
        const backoffMs = Math.min(this.config.retryMaxBackoffMs, 100 * 2 ** Math.min(attempt, 16));
        // Authentication failures have their own line (AuthFailures).
        if (authentication === undefined) this.logDeliveryError(err, attempt, parts, backoffMs);
        if (attempt % 3 === 0) await this.resetProducer(signal);
        await sleep(backoffMs * (0.8 + Math.random() * 0.4), signal);
      }
    }
  }

  private acknowledge(parts: Part[], records: number): void {
    // Handed over: the batches belong to the next sink now, which resends them.
    if (this.handedOver) return;
    const now = Date.now();
    this.lastAckAt = now;
    for (const { batch, from, to } of parts) {
      batch.ackedLines += to - from;
      if (batch.ackedLines === batch.count) {
        this.metrics.readToAck.observe((now - batch.readAt) / 1000);
        batch.owner.onBatchAcked(batch);
      }
    }
    this.metrics.linesAcked.inc(records);
  }

  private async deliverTooLarge(parts: Part[], signal: AbortSignal): Promise<void> {
    this.metrics.messagesTooLarge.inc();
    const lines = parts.reduce((n, p) => n + p.to - p.from, 0);
    if (lines > 1) {
      this.logger.warn({ messages: lines }, 'kafka rejected a request as too large; splitting it');
      const [first, second] = splitParts(parts, Math.ceil(lines / 2));
      await this.deliver(first, signal);
      await this.deliver(second, signal);
      return;
    }
    const { batch, from } = parts[0] as Part;
    const length = batch.valueLength(from);
    const keep = Math.floor(length * 0.75);
    this.logger.warn({ key: batch.key, bytes: length, keptBytes: keep }, 'kafka rejected a message as too large; truncating it');
    batch.cutValue(from, keep);
    this.metrics.linesTruncated.inc({ reason: 'broker' });
    await this.deliver(parts, signal);
  }

  private logDeliveryError(err: unknown, attempt: number, parts: Part[], backoffMs: number): void {
    // The first failure and then one line every 30 s: an outage of hours must
    // not flood the log, but must stay visible.
    const now = Date.now();
    if (attempt === 1 || now - this.lastErrorLogAt > 30_000) {
      this.lastErrorLogAt = now;
      const messages = parts.reduce((n, p) => n + p.to - p.from, 0);
      this.logger.error(
        { err, errorType: (err as KafkaJSError).name, attempt, messages, backoffMs },
        'kafka delivery failed; retrying (lines wait on disk, nothing is dropped)',
      );
    }
  }

  private async resetProducer(signal: AbortSignal): Promise<void> {
    const old = this.producer;
    this.producer = this.createProducer();
    this.connected = false;
    await this.bounded('disconnect', () => old.disconnect(), signal).catch(() => undefined);
  }

  private async ensureReady(parts: Part[], signal: AbortSignal): Promise<void> {
    if (!this.connected) {
      await this.bounded('connect', () => this.producer.connect(), signal);
      this.connected = true;
    }
    for (const { batch } of parts) {
      if (!this.ensuredTopics.has(batch.topic)) {
        await this.bounded(`checking topic "${batch.topic}"`, () => this.ensureTopic(batch.topic), signal);
        this.ensuredTopics.add(batch.topic);
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

/** kafkajs messages for the parts, grouped by topic; the values are views into the read buffers. */
function buildRequest(parts: Part[]): { topicMessages: Array<{ topic: string; messages: Message[] }>; records: number; bytes: number } {
  const byTopic = new Map<string, Message[]>();
  let records = 0;
  let bytes = 0;
  for (const { batch, from, to } of parts) {
    let messages = byTopic.get(batch.topic);
    if (!messages) byTopic.set(batch.topic, (messages = []));
    for (let i = from; i < to; i++) {
      const key = batch.keyAt(i);
      const value = batch.value(i);
      const headers: Record<string, Buffer> = {};
      for (const [name, v] of batch.headersAt(i)) {
        headers[name] = v;
        bytes += name.length + v.length;
      }
      bytes += value.length + (key === null ? 0 : Buffer.byteLength(key));
      messages.push({ key, value, headers });
    }
    records += to - from;
  }
  return { topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })), records, bytes };
}

/** Splits parts after `lines` lines. */
function splitParts(parts: Part[], lines: number): [Part[], Part[]] {
  const first: Part[] = [];
  const second: Part[] = [];
  let left = lines;
  for (const part of parts) {
    const n = part.to - part.from;
    if (left >= n) {
      first.push(part);
      left -= n;
    } else if (left > 0) {
      first.push({ batch: part.batch, from: part.from, to: part.from + left });
      second.push({ batch: part.batch, from: part.from + left, to: part.to });
      left = 0;
    } else {
      second.push(part);
    }
  }
  return [first, second];
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

/** Resolves or rejects with `promise`, or rejects after `ms`. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
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

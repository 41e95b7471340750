// NativeKafkaSink: the Sink (sink.ts) on LogAgent's own Kafka producer
// (producer.ts), a drop-in for KafkaSink with the same contract: a
// LineBatch is acknowledged to its owner only once every line of it is
// acknowledged by the broker (with acks=0: written to the socket);
// delivery is retried forever with capped backoff; a request refused as
// too large is split and a single line too large is cut, marked
// `logagent.truncated` and counted; a missing topic is created or named in
// a clear error. The same metrics, the same status() and the same log
// messages as KafkaSink, so dashboards and alerts do not care which runs.
//
// What it adds over KafkaSink: up to 5 requests in flight per broker (the
// idempotent producer keeps each partition's order across retries), one
// buffer per request and no object per line, and no timer while idle.
//
// TLS and SASL come from one credentials snapshot (credentials.ts) for the
// sink's whole life; new credentials mean a new sink (agent.ts).

import net from 'node:net';
import tls from 'node:tls';
import type pino from 'pino';
import type { KafkaConfig } from '../../config/config.ts';
import { errorMessage } from '../../errors.ts';
import type { Metrics } from '../../metrics.ts';
import { AuthFailures } from '../auth-failures.ts';
import { PLAINTEXT, type KafkaCredentials } from '../credentials.ts';
import type { KafkaStatus } from '../kafka-sink.ts';
import type { LineBatch } from '../line-batch.ts';
import type { ManagedSink } from '../sink.ts';
import { BufferPool } from './buffer-pool.ts';
import { Cluster } from './cluster.ts';
import { BrokerConnection } from './connection.ts';
import { nativeOptions, type NativeProducerOptions } from './options.ts';
import { Producer, type RequestReport } from './producer.ts';
import { LogagentHeaders } from './record-batch.ts';
import { saslAuthenticator } from './sasl.ts';
import { DrainWaiters } from '../drain-waiters.ts';

export interface NativeKafkaSinkOptions {
  config: KafkaConfig;
  logger: pino.Logger;
  metrics: Metrics;
  /** TLS and SASL, read from the files the configuration names; none by default. */
  credentials?: KafkaCredentials;
  /** The producer this one replaces could not authenticate (its recovery is then logged). */
  authFailing?: boolean;
  /** Settings beyond KafkaConfig (tests). */
  overrides?: Partial<NativeProducerOptions>;
}

const ERROR_LOG_INTERVAL_MS = 30_000;
/** Failing deliveries are logged as an error once they have failed this long (a warning before). */
const ESCALATE_AFTER_MS = 5_000;

export class NativeKafkaSink implements ManagedSink {
  private readonly logger: pino.Logger;
  private readonly metrics: Metrics;
  readonly options: NativeProducerOptions;
  private readonly producer: Producer;
  private pending = 0;
  private closed = false;
  private started = false;
  private failing = false;
  private failingSince = 0;
  private escalated = false;
  private failedAttempts = 0;
  private lastErrorLogAt = 0;
  private lastError: { message: string; at: number } | undefined;
  private lastAckAt: number | undefined;
  private readonly drainWaiters = new DrainWaiters();
  /** Batches sent before start(), held back (ManagedSink). */
  private held: LineBatch[] = [];
  /** Batches not fully acknowledged, oldest first: what handOver() gives back. One entry per batch, none per line. */
  private readonly unacknowledged = new Set<LineBatch>();
  private handedOver = false;
  private readonly auth: AuthFailures;

  constructor(o: NativeKafkaSinkOptions) {
    this.logger = o.logger;
    this.metrics = o.metrics;
    const credentials = o.credentials ?? PLAINTEXT;
    this.auth = new AuthFailures(this.logger, this.metrics, credentials, { failing: o.authFailing ?? false });
    this.options = nativeOptions(o.config, {
      ...(credentials.tls ? { tls: credentials.tls } : {}),
      ...(credentials.sasl ? { sasl: credentials.sasl } : {}),
      ...o.overrides,
    });
    const opts = this.options;
    // Room for a full request (lines plus protocol overhead) in every pooled buffer.
    const pool = new BufferPool(opts.batchMaxBytes + Math.max(64 * 1024, opts.batchMaxBytes >> 2), opts.maxInflightPerBroker + 1);
    const cluster = new Cluster({
      bootstrap: opts.brokers,
      now: opts.now,
      logger: this.logger,
      connect: (host, port, onClose) =>
        new BrokerConnection({
          host,
          port,
          clientId: opts.clientId,
          connectTimeoutMs: opts.connectionTimeoutMs,
          requestTimeoutMs: opts.requestTimeoutMs,
          pool,
          ...(opts.tls ? { socketFactory: tlsSocketFactory(opts.tls), connectEvent: 'secureConnect' as const } : {}),
          ...(opts.sasl ? { authenticate: saslAuthenticator(opts.sasl) } : {}),
          ...(onClose ? { onClose } : {}),
        }),
    });
    this.producer = new Producer(
      opts,
      cluster,
      {
        batchAcked: (batch) => this.batchAcked(batch),
        requestDone: (report) => this.requestDone(report),
        failure: (err, context) => this.failure(err, context, 0),
        tooLarge: (info) => {
          this.metrics.messagesTooLarge.inc();
          if (info.split) this.logger.warn({ messages: info.lines }, 'kafka rejected a request as too large; splitting it');
          else {
            this.metrics.linesTruncated.inc({ reason: 'broker' });
            this.logger.warn(
              { key: info.batch.key, bytes: info.bytes, keptBytes: info.keptBytes },
              'kafka rejected a message as too large; truncating it',
            );
          }
        },
        topicCreated: (topic, partitions, replicationFactor) =>
          this.logger.info({ topic, partitions, replicationFactor }, 'creating topic'),
      },
      new LogagentHeaders(),
    );
  }

  /** True while deliveries fail (broker unreachable, topic missing, ...). */
  get isFailing(): boolean {
    return this.failing;
  }

  get pendingLines(): number {
    return this.pending;
  }

  /** Produce requests in flight now (all brokers). */
  get inflightRequests(): number {
    return this.producer.inflightRequests;
  }

  status(): KafkaStatus {
    return {
      connected: this.producer.connected,
      failing: this.failing,
      authFailing: this.auth.failing,
      lastError: this.lastError?.message,
      lastErrorAt: this.lastError ? new Date(this.lastError.at).toISOString() : undefined,
      lastAckAt: this.lastAckAt === undefined ? undefined : new Date(this.lastAckAt).toISOString(),
      pendingLines: this.pending,
    };
  }

  /** Starts sending (batches sent before wait); connects and gets a producer id before the first line arrives. Idempotent. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.producer.warmUp();
    const held = this.held;
    this.held = [];
    for (const b of held) this.producer.add(b);
  }

  send(batch: LineBatch): void {
    if (this.closed || this.handedOver) throw new Error('KafkaSink is closed');
    this.pending += batch.count - batch.ackedLines;
    this.unacknowledged.add(batch);
    if (this.started) this.producer.add(batch);
    else this.held.push(batch);
  }

  /**
   * Stops sending and gives back every batch not fully acknowledged, oldest
   * first, its acknowledged-line count reset; nothing is acknowledged after
   * this (answers still on their way are ignored), so the taker may resend
   * them whole. Connections go with close().
   */
  handOver(): LineBatch[] {
    this.handedOver = true;
    this.producer.abandon();
    const batches = [...this.unacknowledged];
    for (const b of batches) b.ackedLines = 0;
    this.unacknowledged.clear();
    this.held = [];
    this.pending = 0;
    return batches;
  }

  /** Takes batches handed over by a previous sink, ahead of anything sent since; before start(). */
  resume(batches: LineBatch[]): void {
    if (this.started) throw new Error('resume() must come before start()');
    for (const b of batches) {
      this.pending += b.count - b.ackedLines;
      this.unacknowledged.add(b);
    }
    this.held = [...batches, ...this.held];
  }

  async drain(signal?: AbortSignal): Promise<void> {
    while (this.pending > 0) {
      signal?.throwIfAborted();
      await this.drainWaiters.next(signal);
    }
  }

  /**
   * Stops sending. Requests in flight may still be answered within
   * `timeoutMs` (their lines are then acknowledged); what is unacknowledged
   * then stays so (read again after a restart). Returns within `timeoutMs`
   * plus a few milliseconds whatever the broker does, with no socket or
   * timer left. Idempotent.
   */
  async close(timeoutMs = 2_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.producer.close(timeoutMs);
  }

  private batchAcked(batch: LineBatch): void {
    if (this.handedOver) return;
    this.unacknowledged.delete(batch);
    this.metrics.readToAck.observe((Date.now() - batch.readAt) / 1000);
    batch.owner.onBatchAcked(batch);
  }

  private requestDone(r: RequestReport): void {
    if (this.handedOver) return;
    if (this.closed && r.error) return; // failures of the shutdown itself are not delivery errors
    this.metrics.requestDuration.observe(r.durationMs / 1000);
    if (r.ackedLines > 0) {
      this.metrics.batchRecords.observe(r.records);
      this.metrics.batchBytes.observe(r.payloadBytes);
      this.metrics.linesAcked.inc(r.ackedLines);
      this.pending -= r.ackedLines;
      this.lastAckAt = Date.now();
    }
    if (r.error) this.failure(r.error, 'produce request', r.failedLines);
    else if (r.failedLines === 0) this.recovered(r.records);
    if (this.pending <= 0) {
      this.pending = 0;
      this.drainWaiters.wakeAll();
    }
  }

  private recovered(messages: number): void {
    this.metrics.kafkaUp.set(1);
    this.auth.succeeded();
    if (!this.failing) return;
    this.failing = false;
    this.logger.info({ attempts: this.failedAttempts + 1, messages }, 'kafka delivery recovered');
    this.failedAttempts = 0;
  }

  private failure(err: Error, context: string, messages: number): void {
    if (this.closed) return;
    this.metrics.sendErrors.inc();
    this.metrics.kafkaUp.set(0);
    this.failedAttempts++;
    const now = Date.now();
    const authentication = this.auth.record(err, context);
    this.lastError = { message: authentication ?? errorMessage(err), at: now };
    // One warning when deliveries start failing (a topic just created has no
    // leader for a moment; a broker restarts), an error once they have failed
    // for ESCALATE_AFTER_MS, then one every 30 s: an outage of hours must
    // not flood the log, but must stay visible. Authentication failures have
    // their own line (AuthFailures).
    if (!this.failing) {
      this.failingSince = now;
      this.escalated = false;
    }
    const escalate = !this.escalated && now - this.failingSince >= ESCALATE_AFTER_MS;
    const remind = this.escalated && now - this.lastErrorLogAt > ERROR_LOG_INTERVAL_MS;
    if (authentication === undefined && (!this.failing || escalate || remind)) {
      this.lastErrorLogAt = now;
      if (escalate) this.escalated = true;
      this.logger[this.escalated ? 'error' : 'warn'](
        {
          err,
          errorType: (err as { type?: string }).type ?? err.name,
          context,
          attempt: this.failedAttempts,
          messages,
          failingForMs: now - this.failingSince,
        },
        'kafka delivery failed; retrying (lines wait on disk, nothing is dropped)',
      );
    }
    this.failing = true;
  }
}

/** TLS sockets; the server name (SNI and verification) is the broker's host name unless the options set one. */
function tlsSocketFactory(options: tls.ConnectionOptions): (host: string, port: number) => net.Socket {
  return (host, port) => tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...options });
}

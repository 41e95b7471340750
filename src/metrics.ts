// Every metric the agent exports, declared here with its labels: prom-client
// on a private registry (no global state, so tests can run agents side by
// side). Series with a fixed set of label values exist from the start at 0,
// so a dashboard or an alert on rate() sees them before the first event.
// Per-file series (lag) are rebuilt at every scrape from the open files, so
// a closed file's series goes away with it and cardinality stays bounded by
// the open files.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Label values known in advance, each pre-created at 0. */
export const LABEL_VALUES = {
  truncatedReason: ['max_line_bytes', 'multiline', 'broker'],
  partialWhy: ['quiet', 'rotated', 'shutdown'],
  closeReason: ['drained', 'abandoned', 'error', 'shutdown', 'idle', 'unmatched'],
  rotationKind: ['rotated', 'deleted'],
  fileErrorKind: ['open', 'read'],
  skippedKind: ['fifo', 'socket', 'character-device', 'block-device', 'other'],
  checkpointErrorKind: ['corrupt', 'write'],
  reloadResult: ['applied', 'unchanged', 'rejected'],
  authMechanism: ['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer', 'tls'],
  credentialResult: ['applied', 'rejected'],
} as const;

export interface MetricsOptions {
  /** Process and Node.js metrics (CPU, memory, open fds, event loop lag, GC). On in the agent, off in unit tests. */
  defaultMetrics?: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly collectors: Array<() => void> = [];

  readonly linesRead = this.counter('logagent_lines_read_total', 'Lines read from files.');
  readonly bytesRead = this.counter('logagent_bytes_read_total', 'Bytes read from files.');
  readonly linesAcked = this.counter('logagent_lines_acked_total', 'Lines acknowledged by Kafka.');
  readonly linesTruncated = this.counter(
    'logagent_lines_truncated_total',
    'Records shipped truncated: a line longer than the maximum line size (max_line_bytes), a multiline event past its limits (multiline), or a record the broker refused as too large (broker).',
    ['reason'],
    LABEL_VALUES.truncatedReason,
  );
  readonly recordsNotParsed = this.counter(
    'logagent_records_not_parsed_total',
    'Lines of an input with parse: json that are not a JSON object (shipped with the line as a string).',
  );
  readonly recordsEscaped = this.counter(
    'logagent_records_escaped_total',
    'Lines that are not valid UTF-8, shipped in a JSON envelope with the invalid bytes escaped (message_escaped: true).',
  );
  readonly bytesSkipped = this.counter('logagent_line_bytes_skipped_total', 'Bytes cut from over-long lines.');
  readonly partialLinesFlushed = this.counter(
    'logagent_partial_lines_flushed_total',
    'Last lines without a newline shipped after a quiet period (quiet), when their rotated file closed (rotated), or at shutdown.',
    ['why'],
    LABEL_VALUES.partialWhy,
  );
  readonly filesOpened = this.counter('logagent_files_opened_total', 'Files opened for reading.');
  readonly filesClosed = this.counter('logagent_files_closed_total', 'Files closed, by reason.', ['reason'], LABEL_VALUES.closeReason);
  readonly truncations = this.counter(
    'logagent_file_truncations_total',
    'Files found shorter than the read offset (copytruncate) and read again from 0.',
  );
  readonly rotations = this.counter(
    'logagent_file_rotations_total',
    'Files renamed or deleted while open.',
    ['kind'],
    LABEL_VALUES.rotationKind,
  );
  readonly recoveredFiles = this.counter(
    'logagent_recovered_files_total',
    'Unfinished files found by identity at start after they were renamed away from the watched paths while the agent was stopped.',
  );
  readonly abandonedBytes = this.counter(
    'logagent_rotated_abandoned_bytes_total',
    'Unacknowledged bytes of rotated or deleted files given up on (hold time or byte cap).',
  );
  readonly fileErrors = this.counter(
    'logagent_file_errors_total',
    'Errors opening or reading files.',
    ['kind'],
    LABEL_VALUES.fileErrorKind,
  );
  readonly skippedFiles = this.counter(
    'logagent_skipped_files_total',
    'Matched paths that are not regular files (FIFOs, sockets, devices) and are never opened; counted once per path.',
    ['kind'],
    LABEL_VALUES.skippedKind,
  );
  readonly sendErrors = this.counter('logagent_kafka_send_errors_total', 'Failed produce attempts (retried).');
  readonly authFailures = this.counter(
    'logagent_kafka_auth_failures_total',
    'Failed authentications with Kafka, by SASL mechanism, or tls for a TLS handshake that failed on a certificate (ours refused or theirs untrusted). Retried with backoff; a changed secret file is picked up by itself.',
    ['mechanism'],
    LABEL_VALUES.authMechanism,
  );
  readonly credentialReloads = this.counter(
    'logagent_kafka_credential_reloads_total',
    'Reads of the Kafka credential files (certificates, key, password, token) after start: applied (they changed; a new producer took over) or rejected (unreadable, or not holding together mid-rotation; retried, the running producer stays).',
    ['result'],
    LABEL_VALUES.credentialResult,
  );
  readonly clientCertificateExpiry = this.gauge(
    'logagent_kafka_client_certificate_expiry_timestamp_seconds',
    'Unix time at which the TLS client certificate in use expires (0 without one).',
  );
  readonly messagesTooLarge = this.counter(
    'logagent_kafka_messages_too_large_total',
    'Messages the broker rejected as too large, then split or truncated.',
  );
  readonly checkpointWrites = this.counter('logagent_checkpoint_writes_total', 'Checkpoint files written.');
  readonly checkpointErrors = this.counter(
    'logagent_checkpoint_errors_total',
    'Checkpoint load or write errors.',
    ['kind'],
    LABEL_VALUES.checkpointErrorKind,
  );
  readonly inflightBytes = this.gauge(
    'logagent_inflight_bytes',
    'Budget bytes in use: lines read and not yet acknowledged, plus unfinished last lines.',
  );
  readonly openFiles = this.gauge('logagent_open_files', 'Files open for reading.');
  readonly dormantFiles = this.gauge(
    'logagent_dormant_files',
    'Files closed after staying quiet (LOGAGENT_CLOSE_INACTIVE_MS), reopened by identity when they grow.',
  );
  readonly kafkaUp = this.gauge('logagent_kafka_connected', '1 when the last produce attempt succeeded, 0 while deliveries fail.');
  readonly fileLag = this.gauge(
    'logagent_file_lag_bytes',
    'Per open file: bytes written but not yet acknowledged by Kafka (size minus acknowledged offset).',
    ['path'],
  );
  readonly readToAck = new Histogram({
    name: 'logagent_read_to_ack_seconds',
    help: 'Time from reading a batch of lines to Kafka acknowledging all of them, per batch.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'logagent_kafka_request_duration_seconds',
    help: 'Duration of one produce request (sendBatch) until the broker answered, successful or not.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly batchRecords = new Histogram({
    name: 'logagent_kafka_batch_records',
    help: 'Records per produce request.',
    buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 20000],
    registers: [this.registry],
  });
  readonly batchBytes = new Histogram({
    name: 'logagent_kafka_batch_bytes',
    help: 'Record bytes (values, keys and headers) per produce request, before compression.',
    buckets: [1024, 4096, 16384, 65536, 262144, 524288, 1048576, 4194304],
    registers: [this.registry],
  });
  readonly configInfo = this.gauge('logagent_config_info', 'The applied configuration: 1 for the hash of its content.', ['hash']);
  readonly configReloads = this.counter(
    'logagent_config_reloads_total',
    'Configuration loads after start, by result.',
    ['result'],
    LABEL_VALUES.reloadResult,
  );
  readonly configLastReload = this.gauge(
    'logagent_config_last_reload_timestamp_seconds',
    'Unix time of the last configuration load after start, whatever its result (0 before the first).',
  );

  constructor(options: MetricsOptions = {}) {
    if (options.defaultMetrics ?? false) {
      // A 1 s sampling timer rather than prom-client's 10 ms: the idle agent
      // must not wake up 100 times a second to measure its own lag.
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1000 });
    }
    this.configLastReload.set(0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Registers a function that refreshes gauges right before a scrape. */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }

  async render(): Promise<string> {
    for (const fn of this.collectors) fn();
    return this.registry.metrics();
  }

  /** Current value of a series (tests, /status). */
  async value(metric: Counter | Gauge, labels: Record<string, string> = {}): Promise<number> {
    const data = await metric.get();
    const match = data.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
    return match?.value ?? 0;
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[] = [], values: readonly string[] = []): Counter<L> {
    const counter = new Counter<L>({ name, help, labelNames, registers: [this.registry] });
    if (labelNames.length === 0) counter.inc(0);
    else for (const v of values) counter.inc({ [labelNames[0] as L]: v } as Partial<Record<L, string>>, 0);
    return counter;
  }

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    const gauge = new Gauge<L>({ name, help, labelNames, registers: [this.registry] });
    if (labelNames.length === 0) gauge.set(0);
    return gauge;
  }
}

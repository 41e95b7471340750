// Agent: the composition root of `logagent run`. It builds the sink, the
// checkpoint store, the file registry, the inputs and the HTTP server from
// one Config, runs the checkpoint loop, and owns the shutdown order:
//
//   1. keep reading until no file grew for shutdown.quietMs (the app may
//      still be writing its last lines when the pod stops);
//   2. stop discovery and reading, ship unfinished last lines;
//   3. wait until Kafka acknowledged everything in flight;
//   4. write the final checkpoint;
//   5. close every file, disconnect, stop the HTTP server;
// all under shutdown.deadlineMs. Past the deadline, what was acknowledged is
// still checkpointed, the connections are cut, and the exit is non-zero.

import { createHash } from 'node:crypto';
import type pino from 'pino';
import { InflightBudget } from './budget.ts';
import { CheckpointStore } from './checkpoint/store.ts';
import type { Config, KafkaConfig } from './config/config.ts';
import { diffConfig, keepRestartOnly } from './config/diff.ts';
import type { LoadResult } from './config/load.ts';
import { ConfigReloader, type ApplyOutcome } from './config/reloader.ts';
import { redactConfig } from './config/security.ts';
import { HttpServer, type Liveness } from './http/server.ts';
import { Input } from './input/input.ts';
import { FileRegistry } from './input/registry.ts';
import { Metrics } from './metrics.ts';
import { CredentialWatch } from './sink/credential-watch.ts';
import { readCredentials, type KafkaCredentials } from './sink/credentials.ts';
import { SinkFactory } from './sink/factory.ts';
import type { KafkaStatus } from './sink/kafka-sink.ts';
import { SinkSwitch } from './sink/sink-switch.ts';
import { sleep } from './time.ts';

export interface AgentOptions {
  config: Config;
  logger: pino.Logger;
  metrics?: Metrics;
  /** Where the configuration came from, to watch it for changes: a file or a directory (mounted ConfigMap). */
  configPath?: string | undefined;
  /** The configuration text the agent starts with (so that an unchanged source is not re-applied). */
  configText?: string | undefined;
  /** The environment the configuration is read with at every reload. */
  env?: NodeJS.ProcessEnv;
  /** Watch the configuration and apply changes (the agent); off in tests that drive apply() themselves. */
  reload?: boolean;
  /** Builds producers; its client for config.kafka must be prepared (Agent.create does that). */
  sinks?: SinkFactory;
}

export interface ShutdownResult {
  /** Everything read was acknowledged and checkpointed before the deadline. */
  readonly clean: boolean;
  readonly unacknowledgedLines: number;
}

/** A loop that has not run for this many of its intervals (plus the slack) makes /healthz fail. */
const STALL_INTERVALS = 3;
const STALL_SLACK_MS = 10_000;
/** What shutdown may take beyond its deadline to cut connections and close files. */
const CLOSE_GRACE_MS = 2_000;

export class Agent {
  config: Config;
  readonly metrics: Metrics;
  private readonly logger: pino.Logger;
  private readonly budget: InflightBudget;
  private readonly store: CheckpointStore;
  private readonly sink: SinkSwitch;
  private readonly registry: FileRegistry;
  private inputs: Input[] = [];
  private readonly reloader: ConfigReloader | undefined;
  private applying: Promise<unknown> = Promise.resolve();
  private http: HttpServer | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private checkpointing: Promise<void> | undefined;
  private lastCheckpointAt = Date.now();
  private ready = false;
  private shuttingDown: Promise<ShutdownResult> | undefined;
  private configHash: string;
  private readonly sinks: SinkFactory;
  private readonly credentials: CredentialWatch;
  httpPort: number | undefined;

  /** An agent whose Kafka client is loaded (and, for kafkajs, verified: KafkajsPatchError). */
  static async create(options: AgentOptions): Promise<Agent> {
    const metrics = options.metrics ?? new Metrics({ defaultMetrics: true });
    const sinks = options.sinks ?? new SinkFactory(options.logger, metrics);
    await sinks.prepare(options.config.kafka.client);
    return new Agent({ ...options, metrics, sinks });
  }

  constructor(options: AgentOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.metrics = options.metrics ?? new Metrics({ defaultMetrics: true });
    this.configHash = hashConfig(this.config);
    this.budget = new InflightBudget(this.config.inflightMaxBytes);
    this.store = new CheckpointStore({ dir: this.config.checkpoint.dir, logger: this.logger, metrics: this.metrics });
    this.sinks = options.sinks ?? new SinkFactory(this.logger, this.metrics);
    // Unreadable credential files are a ConfigError naming the key and file, before anything starts.
    const credentials = readCredentials(this.config.kafka);
    this.sink = new SinkSwitch(this.sinks.create(this.config.kafka, credentials), this.logger);
    this.credentials = new CredentialWatch({
      kafka: this.config.kafka,
      initial: credentials,
      checkIntervalMs: this.config.config.checkIntervalMs,
      logger: this.logger,
      metrics: this.metrics,
      onChange: (kafka, next) => this.replaceSink(kafka, next, this.config.kafka.requestTimeoutMs),
    });
    if (options.reload ?? true) {
      this.reloader = new ConfigReloader({
        path: options.configPath,
        env: options.env ?? process.env,
        initial: this.config,
        initialText: options.configText,
        logger: this.logger,
        metrics: this.metrics,
        apply: (result) => this.apply(result),
      });
    }
    this.registry = new FileRegistry({
      reader: this.config.reader,
      rotated: this.config.rotated,
      budget: this.budget,
      sink: this.sink,
      store: this.store,
      metrics: this.metrics,
      logger: this.logger,
      autoRun: true,
      events: true,
      persistOnOpen: true,
      onDirectoryChange: (dir) => this.onDirectoryChange(dir),
    });
    this.metrics.configInfo.set({ hash: this.configHash }, 1);
    this.metrics.onCollect(() => {
      this.metrics.inflightBytes.set(this.budget.usedBytes);
      this.metrics.fileLag.reset();
      for (const reader of this.registry.openReaders) {
        this.metrics.fileLag.set({ path: reader.path }, Math.max(0, reader.size - reader.committedOffset));
      }
    });
  }

  /**
   * Starts everything. Throws a CheckpointError (code CHECKPOINT_DIR) when the
   * checkpoint directory is unusable and a KafkajsPatchError when kafkajs is
   * not the code this build patches: both before any file is opened.
   */
  async start(): Promise<void> {
    const { config } = this;
    await this.store.load();
    if (config.http.port !== 0) {
      this.http = new HttpServer({
        host: config.http.host,
        port: config.http.port,
        metrics: this.metrics,
        logger: this.logger,
        health: { liveness: () => this.liveness(), isReady: () => this.ready, status: () => this.status() },
      });
      this.httpPort = await this.http.start();
    }
    this.sink.start();
    this.credentials.start();
    this.inputs = config.inputs.map((input, order) => this.createInput(input, order));
    this.registry.setInputs(this.inputs.map((i) => i.claim));
    for (const input of this.inputs) await input.start();
    const roots = new Set(this.inputs.flatMap((i) => i.watchRoots()));
    await this.registry.recoverUnfinished(roots);
    this.registry.setDiscoveryDirs(roots);
    await this.checkpointNow();
    // A signal during start-up: shutdown owns what exists; start no more.
    if (this.shuttingDown) return;
    this.checkpointTimer = setInterval(() => void this.checkpointNow(), config.checkpoint.intervalMs);
    await this.reloader?.start();
    this.ready = true;
    this.logger.info(
      {
        brokers: config.kafka.brokers,
        inputs: config.inputs.map((i) => ({ name: i.name, topic: i.topic, paths: i.paths })),
        checkpointFile: this.store.path,
        configHash: this.configHash,
      },
      'logagent started',
    );
  }

  /** Syncs acknowledged offsets from the readers and writes the checkpoint file if it changed. */
  async checkpointNow(): Promise<void> {
    if (this.checkpointing) return this.checkpointing;
    this.checkpointing = (async () => {
      try {
        await this.registry.syncCheckpoints();
        this.store.prune(this.config.checkpoint.pruneAfterMs, this.registry.liveIdentities());
        await this.store.persist();
      } catch (err) {
        this.logger.error({ err }, 'checkpoint write failed; retrying at the next interval');
      } finally {
        this.lastCheckpointAt = Date.now();
      }
    })().finally(() => {
      this.checkpointing = undefined;
    });
    return this.checkpointing;
  }

  /** Reads the configuration again now (SIGHUP). */
  reloadConfig(reason: string): Promise<void> {
    return this.reloader?.reload(reason) ?? Promise.resolve();
  }

  /**
   * Applies a new configuration without losing or repeating a line:
   * - an unchanged input keeps its open files, offsets and unfinished lines;
   * - a changed input takes its new route from the next line read (lines in
   *   flight finish on the old topic) and its new globs at once (files no
   *   longer matched finish and close, checkpoints kept; new ones start as
   *   new files do);
   * - a removed input stops (in-flight lines acknowledged, checkpoints kept),
   *   so adding it again resumes where it stopped;
   * - a changed `kafka` section gets a new producer once the old one drained;
   * - a key that needs a restart keeps its running value and is logged.
   * Applies run one at a time.
   */
  apply(result: LoadResult): Promise<ApplyOutcome> {
    const run = this.applying.then(() => this.applyNow(result));
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async applyNow(result: LoadResult): Promise<ApplyOutcome> {
    if (this.shuttingDown) return 'unchanged';
    const prev = this.config;
    for (const key of diffConfig(prev, result.config).restartRequired) {
      this.logger.warn(
        { key, origin: result.origin },
        'configuration key changed; it takes effect at the next restart (the running value stays)',
      );
    }
    const next = keepRestartOnly(prev, result.config);
    const diff = diffConfig(prev, next);
    if (diff.changed.length === 0 && !diff.inputsReordered) {
      this.logger.info({ origin: result.origin, hash: this.configHash }, 'configuration unchanged');
      return 'unchanged';
    }
    // Before anything changes: a client that cannot load, or credential files
    // that cannot be read, reject the whole update.
    if (diff.kafkaChanged) await this.sinks.prepare(next.kafka.client);
    const credentials = diff.kafkaChanged ? readCredentials(next.kafka) : undefined;
    this.config = next;
    if (prev.logLevel !== next.logLevel) this.logger.level = next.logLevel;

    // Inputs: stop the removed, update the changed, create the added, then
    // give the registry the new set (routes, ranks) and look again.
    const byName = new Map(this.inputs.map((i) => [i.name, i]));
    for (const name of diff.inputsRemoved) await byName.get(name)?.stop();
    const added: Input[] = [];
    this.inputs = next.inputs.map((cfg, order) => {
      const existing = byName.get(cfg.name);
      if (existing && !diff.inputsRemoved.includes(cfg.name)) {
        existing.update(cfg, order);
        existing.setScanInterval(next.discovery.scanIntervalMs);
        return existing;
      }
      const created = this.createInput(cfg, order);
      added.push(created);
      return created;
    });
    this.registry.setInputs(this.inputs.map((i) => i.claim));
    for (const input of added) await input.start();
    for (const input of this.inputs) if (!added.includes(input)) input.requestScan();
    this.registry.setDiscoveryDirs(new Set(this.inputs.flatMap((i) => i.watchRoots())));

    if (credentials) {
      this.credentials.update(next.kafka, credentials);
      this.replaceSink(next.kafka, credentials, prev.kafka.requestTimeoutMs);
    }

    this.configHash = hashConfig(next);
    this.metrics.configInfo.reset();
    this.metrics.configInfo.set({ hash: this.configHash }, 1);
    this.logger.info(
      {
        origin: result.origin,
        hash: this.configHash,
        changes: diff.changed,
        inputs: next.inputs.map((i) => ({ name: i.name, topic: i.topic, paths: i.paths })),
      },
      'configuration applied',
    );
    return 'applied';
  }

  /** A new producer for `kafka` on `credentials` (a configuration change, or changed credential files). */
  private replaceSink(kafka: KafkaConfig, credentials: KafkaCredentials, drainTimeoutMs: number): void {
    // Shutdown drains and closes the producer it has; a new one now would outlive it.
    if (this.shuttingDown) return;
    const { authFailing } = this.sink.active.status() as KafkaStatus;
    const sink = this.sinks.create(kafka, credentials, authFailing);
    // A producer that cannot authenticate cannot drain either: it hands over at once.
    const drainMs = authFailing ? 0 : drainTimeoutMs;
    // Not awaited: the old producer drains in the background while the
    // new one queues; a later replacement waits for it inside SinkSwitch.
    void this.sink
      .replace(sink, drainMs)
      .then(({ handedOver }) => this.logger.info({ handedOver }, 'kafka producer replaced'))
      .catch((err: unknown) => this.logger.error({ err }, 'replacing the kafka producer failed'));
  }

  private createInput(input: Config['inputs'][number], order: number): Input {
    return new Input({
      config: input,
      order,
      registry: this.registry,
      scanIntervalMs: this.config.discovery.scanIntervalMs,
      logger: this.logger,
      autoScan: true,
    });
  }

  liveness(): Liveness {
    const now = Date.now();
    const loops: Record<string, { agoMs: number; limitMs: number; ok: boolean }> = {};
    const check = (name: string, last: number, intervalMs: number): void => {
      const limitMs = STALL_INTERVALS * intervalMs + STALL_SLACK_MS;
      const agoMs = now - last;
      loops[name] = { agoMs, limitMs, ok: !this.ready || this.shuttingDown !== undefined || agoMs <= limitMs };
    };
    check('checkpoint', this.lastCheckpointAt, this.config.checkpoint.intervalMs);
    for (const input of this.inputs) check(`scan:${input.name}`, input.lastScanAt, this.config.discovery.scanIntervalMs);
    return { ok: Object.values(loops).every((l) => l.ok), loops };
  }

  status(): unknown {
    return {
      ready: this.ready,
      shuttingDown: this.shuttingDown !== undefined,
      config: {
        hash: this.configHash,
        inputs: this.config.inputs.map((i) => ({ name: i.name, topic: i.topic, paths: i.paths })),
        ...(this.reloader ? { reload: this.reloader.status() } : {}),
      },
      kafka: { ...(this.sink.active.status() as KafkaStatus), credentials: this.credentials.status() },
      budget: { maxBytes: this.budget.maxBytes, usedBytes: this.budget.usedBytes, heldBytes: this.budget.heldBytes },
      files: this.registry.status(),
    };
  }

  shutdown(reason: string): Promise<ShutdownResult> {
    this.shuttingDown ??= this.runShutdown(reason);
    return this.shuttingDown;
  }

  private onDirectoryChange(dir: string): void {
    for (const input of this.inputs) if (input.watchRoots().some((root) => dir === root || dir.startsWith(`${root}/`))) input.requestScan();
  }

  private async runShutdown(reason: string): Promise<ShutdownResult> {
    const { quietMs, deadlineMs } = this.config.shutdown;
    const deadline = AbortSignal.timeout(deadlineMs);
    const startedAt = Date.now();
    const remaining = (): number => Math.max(0, deadlineMs - (Date.now() - startedAt));
    this.logger.info({ reason, quietMs, deadlineMs }, 'shutting down: waiting for files to go quiet');

    // 1. Keep reading while the app writes its last lines.
    while (!deadline.aborted && quietMs > 0 && this.ready) {
      const lastGrowth = Math.max(0, ...this.registry.openReaders.map((r) => r.lastGrowth));
      const quietFor = Date.now() - Math.max(lastGrowth, startedAt);
      if (quietFor >= quietMs) break;
      await sleep(Math.min(100, quietMs - quietFor), deadline).catch(() => undefined);
    }

    // 2. Stop watching the configuration, discovery and reading; unfinished last lines are shipped.
    await this.reloader?.close();
    await this.applying;
    await this.credentials.close();
    await Promise.all(this.inputs.map((i) => i.stop()));
    await this.registry.stopReading();

    // 3. Wait for Kafka to acknowledge what is in flight.
    let clean = true;
    try {
      await this.sink.drain(deadline);
    } catch {
      clean = false;
    }
    const unacknowledgedLines = this.sink.pendingLines;
    if (!clean) {
      this.logger.error(
        { unacknowledgedLines, deadlineMs },
        'shutdown deadline reached before Kafka acknowledged every line; they are shipped again after restart',
      );
    }

    // 4. Final checkpoint: covers exactly what was acknowledged.
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.checkpointTimer = undefined;
    await this.checkpointing;
    await this.registry.closeAll();
    await this.store
      .persist()
      .catch((err: unknown) => this.logger.error({ err }, 'final checkpoint write failed; the previous checkpoint stands'));

    // 5. Release everything, even if Kafka never answers.
    await this.sink.close(Math.min(CLOSE_GRACE_MS, Math.max(200, remaining())));
    await this.http?.close();
    this.logger.info({ clean, unacknowledgedLines, tookMs: Date.now() - startedAt }, 'logagent stopped');
    return { clean, unacknowledgedLines };
  }
}

/** A short, stable hash of the effective configuration (logged and exported as logagent_config_info). */
export function hashConfig(config: Config): string {
  // Of the redacted configuration: a hash of a secret is a way to guess it offline.
  return createHash('sha256')
    .update(JSON.stringify(redactConfig(config)))
    .digest('hex')
    .slice(0, 12);
}

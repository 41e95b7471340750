// Agent: the composition root of `logagent run`. It builds the sink, the
// checkpoint store, the inputs and the HTTP server from one Config, runs the
// checkpoint loop, and owns the shutdown order:
//
//   1. keep reading until no file grew for shutdown.quietMs (the app may
//      still be writing its last lines when the pod stops);
//   2. stop discovery and reading, ship unfinished last lines;
//   3. wait until Kafka acknowledged everything in flight;
//   4. write the final checkpoint;
//   5. disconnect and close every file;
// all under shutdown.deadlineMs. Past the deadline, what was acknowledged is
// still checkpointed and the exit is non-zero.

import type pino from 'pino';
import { InflightBudget } from './budget.ts';
import { CheckpointStore } from './checkpoint/store.ts';
import type { Config } from './config/config.ts';
import { errorMessage } from './errors.ts';
import { HttpServer } from './http/server.ts';
import { FileInput } from './input/file-input.ts';
import type { FileReader } from './input/file-reader.ts';
import { Metrics } from './metrics.ts';
import { KafkaSink } from './sink/kafka-sink.ts';
import { sleep } from './time.ts';

export interface AgentOptions {
  config: Config;
  logger: pino.Logger;
  metrics?: Metrics;
}

export interface ShutdownResult {
  /** Everything read was acknowledged and checkpointed before the deadline. */
  readonly clean: boolean;
  readonly unacknowledged: number;
}

export class Agent {
  readonly config: Config;
  readonly metrics: Metrics;
  private readonly logger: pino.Logger;
  private readonly budget: InflightBudget;
  private readonly store: CheckpointStore;
  private readonly sink: KafkaSink;
  private readonly claims = new Map<string, FileReader>();
  private inputs: FileInput[] = [];
  private http: HttpServer | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private checkpointing: Promise<void> | undefined;
  private started = false;
  private shuttingDown: Promise<ShutdownResult> | undefined;
  httpPort: number | undefined;

  constructor(options: AgentOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.metrics = options.metrics ?? new Metrics();
    this.budget = new InflightBudget(this.config.inflightMaxBytes);
    this.store = new CheckpointStore({ dir: this.config.checkpoint.dir, logger: this.logger, metrics: this.metrics });
    this.sink = new KafkaSink({ config: this.config.kafka, logger: this.logger.child({ component: 'kafka' }), metrics: this.metrics });
    this.metrics.onCollect(() => this.metrics.inflightBytes.set(this.budget.usedBytes));
  }

  async start(): Promise<void> {
    const { config } = this;
    if (config.http.port !== 0) {
      this.http = new HttpServer({
        host: config.http.host,
        port: config.http.port,
        metrics: this.metrics,
        logger: this.logger,
        health: { isLive: () => this.started, isReady: () => this.started && !this.sink.isFailing },
      });
      this.httpPort = await this.http.start();
    }
    await this.store.load();
    this.sink.start();
    for (const input of config.inputs) {
      const fileInput = new FileInput({
        input,
        reader: config.reader,
        rotated: config.rotated,
        scanIntervalMs: config.discovery.scanIntervalMs,
        budget: this.budget,
        sink: this.sink,
        store: this.store,
        metrics: this.metrics,
        logger: this.logger,
        claims: this.claims,
      });
      this.inputs.push(fileInput);
      await fileInput.start();
    }
    // Record the start positions now: a file started at its end must not be
    // started at its (then later) end again if the agent dies before the
    // first interval.
    await this.checkpointNow();
    this.checkpointTimer = setInterval(() => void this.checkpointNow(), config.checkpoint.intervalMs);
    this.started = true;
    this.logger.info(
      {
        brokers: config.kafka.brokers,
        inputs: config.inputs.map((i) => ({ topic: i.topic, paths: i.paths })),
        checkpointFile: this.store.path,
      },
      'logagent started',
    );
  }

  /** Syncs acknowledged offsets from the readers and writes the checkpoint file if it changed. */
  async checkpointNow(): Promise<void> {
    if (this.checkpointing) return this.checkpointing;
    this.checkpointing = (async () => {
      try {
        for (const input of this.inputs) await input.syncCheckpoints();
        this.store.prune(this.config.checkpoint.pruneAfterMs, new Set(this.claims.keys()));
        await this.store.persist();
      } catch (err) {
        this.logger.error({ err: errorMessage(err) }, 'checkpoint write failed; retrying at the next interval');
      }
    })().finally(() => {
      this.checkpointing = undefined;
    });
    return this.checkpointing;
  }

  shutdown(reason: string): Promise<ShutdownResult> {
    this.shuttingDown ??= this.runShutdown(reason);
    return this.shuttingDown;
  }

  private async runShutdown(reason: string): Promise<ShutdownResult> {
    const { quietMs, deadlineMs } = this.config.shutdown;
    const deadline = AbortSignal.timeout(deadlineMs);
    const startedAt = Date.now();
    this.logger.info({ reason, quietMs, deadlineMs }, 'shutting down: waiting for files to go quiet');

    // 1. Keep reading while the app writes its last lines.
    while (!deadline.aborted && quietMs > 0) {
      const lastGrowth = Math.max(0, ...this.inputs.map((i) => i.lastGrowth()));
      const quietFor = Date.now() - Math.max(lastGrowth, startedAt);
      if (quietFor >= quietMs) break;
      await sleep(Math.min(100, quietMs - quietFor), deadline).catch(() => undefined);
    }

    // 2. Stop discovery and reading; unfinished last lines are shipped.
    for (const input of this.inputs) await input.stopDiscovery();
    await Promise.all(this.inputs.map((i) => i.stopReading()));

    // 3. Wait for Kafka to acknowledge what is in flight.
    let clean = true;
    try {
      await this.sink.drain(deadline);
    } catch {
      clean = false;
    }
    const unacknowledged = this.sink.pendingCount;
    if (!clean) {
      this.logger.error(
        { unacknowledged, deadlineMs },
        'shutdown deadline reached before Kafka acknowledged every line; they are shipped again after restart',
      );
    }

    // 4. Final checkpoint: covers exactly what was acknowledged.
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    await this.checkpointing;
    await this.checkpointNow();

    // 5. Release everything.
    await Promise.all(this.inputs.map((i) => i.close()));
    await this.store.persist().catch((err: unknown) => this.logger.error({ err: errorMessage(err) }, 'final checkpoint write failed'));
    await this.sink.close();
    await this.http?.close();
    this.logger.info({ clean, unacknowledged, tookMs: Date.now() - startedAt }, 'logagent stopped');
    return { clean, unacknowledged };
  }
}

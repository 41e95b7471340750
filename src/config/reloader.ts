// ConfigReloader: notices that the configuration may have changed, reads
// it, validates it, and hands a valid one to the agent; an invalid one is
// rejected with every problem, counted, and the running configuration stays.
//
// Sources, one at a time:
// - the configuration file or ConfigMap directory (LOGAGENT_CONFIG or
//   --config): filesystem events, SIGHUP, and a periodic re-read;
// - with kubernetes.configMap set, the ConfigMap through the Kubernetes API
//   (faster than the kubelet's volume sync, and never older than it: so the
//   mounted copy is read at start only, and reloads come from the API).
// Every read is compared by the hash of its text first, so events, the
// timer and the API can all fire without re-applying anything. Reloads run
// one at a time; one requested meanwhile runs once after.

import { createHash } from 'node:crypto';
import type pino from 'pino';
import { ConfigError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { Config } from './config.ts';
import { ConfigMapSource, type ConfigMapStatus } from './configmap-source.ts';
import { ConfigFileWatcher } from './file-source.ts';
import { loadConfigDetailed, readConfigSource, type ConfigText, type LoadResult } from './load.ts';

export type ApplyOutcome = 'applied' | 'unchanged';

export interface ConfigReloaderOptions {
  /** The configuration file or directory; undefined: environment only (nothing to watch but a ConfigMap). */
  path: string | undefined;
  env: NodeJS.ProcessEnv;
  /** The configuration the agent started with (its sources decide what to watch). */
  initial: Config;
  /** The text the agent started with, so that an unchanged source is not applied again. */
  initialText: string | undefined;
  logger: pino.Logger;
  metrics: Metrics;
  apply: (result: LoadResult) => Promise<ApplyOutcome>;
}

export class ConfigReloader {
  private readonly o: ConfigReloaderOptions;
  private readonly logger: pino.Logger;
  private fileWatcher: ConfigFileWatcher | undefined;
  private configMap: ConfigMapSource | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastTextHash: string | undefined;
  private running: Promise<void> | undefined;
  private pending: { reason: string; source?: ConfigText } | undefined;
  private closed = false;
  private checkIntervalMs: number;

  constructor(options: ConfigReloaderOptions) {
    this.o = options;
    this.logger = options.logger.child({ component: 'config' });
    this.lastTextHash = options.initialText === undefined ? undefined : hashText(options.initialText);
    this.checkIntervalMs = options.initial.config.checkIntervalMs;
  }

  async start(): Promise<void> {
    const k8s = this.o.initial.kubernetes;
    if (k8s.configMap) {
      this.configMap = new ConfigMapSource({
        name: k8s.configMap,
        namespace: k8s.namespace,
        key: k8s.configKey,
        env: this.o.env,
        logger: this.o.logger,
        onText: (text, origin) => this.request('kubernetes api', { text, origin }),
      });
      this.logger.info({ source: this.configMap.origin, key: k8s.configKey }, 'watching the configuration through the Kubernetes API');
      // A failing API (permissions, network) is logged and retried by the
      // source; the agent runs on its start-up configuration meanwhile.
      await this.configMap.start().catch((err: unknown) => this.logger.error({ err }, 'cannot start the Kubernetes API watch; retrying'));
    } else if (this.o.path !== undefined) {
      this.fileWatcher = new ConfigFileWatcher(this.o.path, (reason) => this.request(reason), this.o.logger);
      this.fileWatcher.start();
      this.logger.info({ path: this.o.path }, 'watching the configuration file');
    }
    this.scheduleCheck();
  }

  /** Read the configuration again now (SIGHUP, tests). */
  reload(reason: string): Promise<void> {
    this.request(reason);
    return this.idle();
  }

  /** Resolves when no reload is running or pending. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  status(): { source: string; lastTextHash: string | undefined; configMap?: ConfigMapStatus } {
    return {
      source: this.configMap?.origin ?? this.o.path ?? 'environment',
      lastTextHash: this.lastTextHash,
      ...(this.configMap ? { configMap: this.configMap.status() } : {}),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.fileWatcher?.close();
    await this.configMap?.close();
    await this.idle();
  }

  private scheduleCheck(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.configMap) void this.configMap.refresh().finally(() => this.scheduleCheck());
      else if (this.o.path !== undefined) void this.reload('periodic check').finally(() => this.scheduleCheck());
    }, this.checkIntervalMs);
  }

  private request(reason: string, source?: ConfigText): void {
    if (this.closed) return;
    this.pending = source === undefined ? { reason } : { reason, source };
    if (this.running) return;
    this.running = (async () => {
      while (this.pending && !this.closed) {
        const next = this.pending;
        this.pending = undefined;
        await this.load(next.reason, next.source);
      }
    })().finally(() => {
      this.running = undefined;
    });
  }

  private async load(reason: string, given: ConfigText | undefined): Promise<void> {
    let source: ConfigText | undefined = given;
    try {
      if (source === undefined) {
        if (this.o.path === undefined) return;
        source = readConfigSource(this.o.path);
      }
    } catch (err) {
      this.reject(reason, this.o.path ?? '(config)', err);
      return;
    }
    const textHash = hashText(source.text);
    if (textHash === this.lastTextHash) {
      this.logger.debug({ reason, origin: source.origin }, 'configuration source unchanged');
      return;
    }
    this.lastTextHash = textHash;
    this.o.metrics.configLastReload.set(Date.now() / 1000);
    let result: LoadResult;
    try {
      result = loadConfigDetailed({ env: this.o.env, source });
    } catch (err) {
      this.reject(reason, source.origin, err);
      return;
    }
    for (const { key, env } of result.overrides) {
      this.logger.warn(
        { key, env, origin: source.origin },
        'a key set in the configuration is overridden by the environment; the environment wins',
      );
    }
    try {
      const outcome = await this.o.apply(result);
      this.o.metrics.configReloads.inc({ result: outcome });
      if (result.config.config.checkIntervalMs !== this.checkIntervalMs) this.checkIntervalMs = result.config.config.checkIntervalMs;
    } catch (err) {
      this.reject(reason, source.origin, err);
    }
  }

  private reject(reason: string, origin: string, err: unknown): void {
    this.o.metrics.configReloads.inc({ result: 'rejected' });
    this.o.metrics.configLastReload.set(Date.now() / 1000);
    const problems =
      err instanceof ConfigError
        ? err.problems.map((p) => `${p.key}${p.env ? ` (env ${p.env})` : ''}: ${p.message}`)
        : [String((err as Error)?.message ?? err)];
    this.logger.error({ reason, origin, problems }, 'configuration rejected; the running configuration stays');
  }
}

function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

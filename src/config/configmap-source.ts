// Watches one ConfigMap through the Kubernetes API and hands its
// configuration key's text to the reloader within a second of a change,
// where the kubelet's volume sync can take a minute or more.
//
// List-and-watch of that one object, with fieldSelector
// metadata.name=<name>: what RBAC with `resourceNames` allows (an
// unfiltered list or watch is refused). The watch resumes from the last
// resourceVersion; a 410 Gone (the version was compacted away) relists;
// any other error or a stall restarts with capped backoff (an informer can
// stop for good on some errors, so this is a plain loop we own). The caller
// also re-reads on a timer (refresh()), the safety net for anything missed.
// A deleted ConfigMap keeps the running configuration and logs a warning.
// A refused permission is logged naming the verb and the resource.
//
// @kubernetes/client-node is loaded only here, and only when a ConfigMap is
// configured: the agent that does not use it does not pay for it.

import { readFileSync } from 'node:fs';
import type pino from 'pino';

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** The API server ends each watch after this; a fresh one resumes from the last version. */
const WATCH_TIMEOUT_S = 240;
/** No byte for this long (not even the server's end of the watch): the watch is stalled; restart it. */
const STALL_MS = (WATCH_TIMEOUT_S + 60) * 1000;
const ERROR_LOG_INTERVAL_MS = 60_000;

export interface ConfigMapSourceOptions {
  name: string;
  /** Empty: POD_NAMESPACE, else the service account's namespace file. */
  namespace: string;
  key: string;
  env: NodeJS.ProcessEnv;
  logger: pino.Logger;
  /** The key's text changed (or was seen for the first time). */
  onText: (text: string, origin: string) => void;
}

export interface ConfigMapStatus {
  readonly namespace: string;
  readonly name: string;
  readonly watching: boolean;
  readonly resourceVersion: string | undefined;
  readonly lastError: string | undefined;
}

type K8s = typeof import('@kubernetes/client-node');
interface ConfigMapObject {
  metadata?: { name?: string; resourceVersion?: string };
  data?: Record<string, string>;
  code?: number;
}

export function resolveNamespace(configured: string, env: NodeJS.ProcessEnv): string {
  if (configured) return configured;
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    return readFileSync(SA_NAMESPACE_FILE, 'utf8').trim();
  } catch {
    throw new Error(
      'kubernetes.configMap is set but no namespace is known: set kubernetes.namespace (LOGAGENT_KUBERNETES_NAMESPACE) or POD_NAMESPACE, or run in a pod with a service account',
    );
  }
}

export class ConfigMapSource {
  private readonly o: ConfigMapSourceOptions;
  private readonly namespace: string;
  private readonly logger: pino.Logger;
  private k8s: K8s | undefined;
  private api: InstanceType<K8s['CoreV1Api']> | undefined;
  private kubeConfig: InstanceType<K8s['KubeConfig']> | undefined;
  private watchAbort: AbortController | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private resourceVersion: string | undefined;
  private lastText: string | undefined;
  private backoffMs = BACKOFF_MIN_MS;
  private watching = false;
  private closed = false;
  private lastError: string | undefined;
  private lastErrorLogAt = 0;

  constructor(options: ConfigMapSourceOptions) {
    this.o = options;
    this.namespace = resolveNamespace(options.namespace, options.env);
    this.logger = options.logger.child({ component: 'configmap', namespace: this.namespace, configMap: options.name });
  }

  get origin(): string {
    return `configmap/${this.namespace}/${this.o.name}`;
  }

  status(): ConfigMapStatus {
    return {
      namespace: this.namespace,
      name: this.o.name,
      watching: this.watching,
      resourceVersion: this.resourceVersion,
      lastError: this.lastError,
    };
  }

  /** Loads the client (KUBECONFIG outside a cluster, in-cluster credentials inside), lists, and starts watching. */
  async start(): Promise<void> {
    this.k8s = await import('@kubernetes/client-node');
    this.kubeConfig = new this.k8s.KubeConfig();
    this.kubeConfig.loadFromDefault();
    this.api = this.kubeConfig.makeApiClient(this.k8s.CoreV1Api);
    await this.cycle();
  }

  /** Reads the ConfigMap again now (the periodic safety net); a change is reported like a watch event. */
  async refresh(): Promise<void> {
    if (this.closed || !this.api) return;
    try {
      await this.list();
    } catch (err) {
      this.reportError('list', err);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopWatch();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /**
   * Watch from the last version seen, listing first only when there is none
   * (start, or after a 410): a watch resumed after a dropped connection or
   * an API server restart costs the server no list. On failure, retry with
   * backoff.
   */
  private async cycle(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.resourceVersion === undefined) await this.list();
      await this.watch();
      this.backoffMs = BACKOFF_MIN_MS;
    } catch (err) {
      this.reportError(this.watching ? 'watch' : 'list', err);
      this.retryLater();
    }
  }

  private async list(): Promise<void> {
    const api = this.api as NonNullable<typeof this.api>;
    const list = await api.listNamespacedConfigMap({ namespace: this.namespace, fieldSelector: `metadata.name=${this.o.name}` });
    this.resourceVersion = list.metadata?.resourceVersion;
    const item = list.items[0] as ConfigMapObject | undefined;
    if (!item) {
      this.warnMissing('not found');
      return;
    }
    this.accept(item);
  }

  private async watch(): Promise<void> {
    if (this.closed) return;
    const k8s = this.k8s as K8s;
    const watch = new k8s.Watch(this.kubeConfig as NonNullable<typeof this.kubeConfig>);
    // client-node aborts a watch after 30 s without a byte; an idle
    // ConfigMap sends none, so give the server's own timeout room to end
    // the watch first (a private field: the library offers no option).
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = STALL_MS;
    this.watching = true;
    this.armStall();
    this.watchAbort = await watch.watch(
      `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/configmaps`,
      {
        fieldSelector: `metadata.name=${this.o.name}`,
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: WATCH_TIMEOUT_S,
      },
      (type: string, obj: ConfigMapObject) => this.onEvent(type, obj),
      (err: unknown) => this.onWatchEnd(err),
    );
  }

  private onEvent(type: string, obj: ConfigMapObject): void {
    this.armStall();
    if (obj?.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        this.accept(obj);
        break;
      case 'DELETED':
        this.warnMissing('deleted');
        break;
      case 'ERROR':
        // 410 Gone: the version we watch from is no longer kept (compacted,
        // or an API server restart rebuilt its watch cache): relist.
        if (obj?.code === 410) {
          this.resourceVersion = undefined;
          this.logger.info({ code: 410 }, 'configmap watch: resource version too old (410 Gone); relisting');
        } else {
          this.logger.warn({ code: obj?.code }, 'configmap watch error event; restarting the watch');
        }
        this.stopWatch();
        this.retrySoon(obj?.code === 410 ? 0 : this.backoffMs);
        break;
      default:
        break; // BOOKMARK: the version moved on, nothing else to do
    }
  }

  private onWatchEnd(err: unknown): void {
    if (this.closed || !this.watching) return;
    this.watching = false;
    this.clearStall();
    if (err && (err as { name?: string }).name !== 'AbortError' && (err as { name?: string }).name !== 'TimeoutError') {
      if ((err as { statusCode?: number }).statusCode === 410) {
        this.resourceVersion = undefined;
        this.logger.info({ code: 410 }, 'configmap watch: resource version too old (410 Gone); relisting');
        this.retrySoon(0);
        return;
      }
      this.reportError('watch', err);
      this.retryLater();
      return;
    }
    // The server ended the watch (its timeout) or we restarted it: resume at once.
    this.retrySoon(0);
  }

  private accept(obj: ConfigMapObject): void {
    const text = obj.data?.[this.o.key];
    if (text === undefined) {
      this.logger.warn({ key: this.o.key }, 'the ConfigMap has no such key; keeping the running configuration');
      return;
    }
    if (text === this.lastText) return;
    this.lastText = text;
    this.o.onText(text, this.origin);
  }

  private warnMissing(how: string): void {
    this.logger.warn({ how }, 'the ConfigMap is gone; keeping the running configuration');
  }

  private armStall(): void {
    this.clearStall();
    this.stallTimer = setTimeout(() => {
      this.logger.warn({ stallMs: STALL_MS }, 'configmap watch stalled; restarting it');
      this.stopWatch();
      this.retrySoon(0);
    }, STALL_MS);
    this.stallTimer.unref();
  }

  private clearStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private stopWatch(): void {
    this.watching = false;
    this.clearStall();
    const abort = this.watchAbort;
    this.watchAbort = undefined;
    abort?.abort();
  }

  private retryLater(): void {
    this.retrySoon(this.backoffMs);
    this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs * 2);
  }

  private retrySoon(ms: number): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.cycle();
    }, ms);
  }

  /** A refused permission names the verb and the resource; other errors say what failed. Logged once, then once a minute. */
  private reportError(verb: 'list' | 'watch', err: unknown): void {
    const code = (err as { code?: number; statusCode?: number }).code ?? (err as { statusCode?: number }).statusCode;
    const body = (err as { body?: unknown }).body;
    const detail = typeof body === 'string' ? body : body && typeof body === 'object' ? JSON.stringify(body) : (err as Error).message;
    const message =
      code === 403
        ? `the Kubernetes API refused to ${verb} configmaps "${this.o.name}" in namespace "${this.namespace}" (needs get, list, watch on that ConfigMap): ${extractMessage(detail)}`
        : `cannot ${verb} configmaps "${this.o.name}" in namespace "${this.namespace}": ${extractMessage(detail)}`;
    this.lastError = message;
    const now = Date.now();
    if (now - this.lastErrorLogAt < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLogAt = now;
    this.logger.error({ verb, resource: 'configmaps', code, err }, message);
  }
}

function extractMessage(detail: string): string {
  try {
    const parsed = JSON.parse(detail) as { message?: string };
    if (parsed.message) return parsed.message;
  } catch {
    // not JSON
  }
  return detail;
}

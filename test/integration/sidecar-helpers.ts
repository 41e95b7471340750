// Helpers of k8s-sidecar.test.ts: the chart's example workload (an app that
// writes "<time> pod=<pod> seq=<n>" lines, LogAgent beside it) installed with
// helm into a cluster whose pods run, the app's lines read back from Kafka
// per pod, LogAgent's own logs, and a pod deletion observed three ways: the
// pod's status through a watch, LogAgent's log stream, and the containers'
// processes as the host sees them in /proc (exit times to the millisecond;
// the pod status has whole seconds only).
//
// Where the cluster is (all optional; the defaults are the local node of
// scripts/k8s-local.sh, which scripts/test.sh exports):
//   LOGAGENT_TEST_IMAGE              LogAgent image already on the node (kind
//                                    load); unset: built from the Dockerfile
//                                    and imported by the test file
//   LOGAGENT_TEST_APP_IMAGE          the example app's image on the node
//                                    (default: the node's busybox)
//   LOGAGENT_TEST_POD_HOST_NETWORK   "0": pods on the pod network (kind);
//                                    default "1": hostNetwork, the only way
//                                    a pod reaches the host's loopback broker
//   LOGAGENT_TEST_POD_BROKERS        the broker as pods see it (default
//                                    KAFKA_BROKERS, the test's own view)

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { stringify } from 'yaml';
import { helmOk, CHART } from './helm-helpers.ts';
import { brokers, freePort, tmpDir, type Consumed } from './helpers.ts';
import { BUSYBOX_IMAGE, k8sEnv, kubectl, kubectlJson, podExec, waitFor, waitForPodGone } from './k8s-helpers.ts';

export interface ImageRef {
  repository: string;
  tag: string;
}

/** "repo/name:tag" → { repository, tag } (the tag after the last colon past the last slash). */
export function splitImage(ref: string): ImageRef {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon <= slash) return { repository: ref, tag: 'latest' };
  return { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) };
}

export interface SidecarEnv {
  /** LogAgent's image as preloaded on the node, or undefined: the test file builds and imports it. */
  presetImage: string | undefined;
  appImage: ImageRef;
  /** Pods on the node's network (local node) or the pod network (kind). */
  hostNetwork: boolean;
  /** Bootstrap brokers as the pods reach them. */
  podBrokers: string;
  /** The node of scripts/k8s-local.sh on this machine (its containerd socket is known). */
  localNode: boolean;
}

export function sidecarEnv(): SidecarEnv {
  return {
    presetImage: process.env.LOGAGENT_TEST_IMAGE || undefined,
    appImage: splitImage(process.env.LOGAGENT_TEST_APP_IMAGE || BUSYBOX_IMAGE),
    hostNetwork: process.env.LOGAGENT_TEST_POD_HOST_NETWORK !== '0',
    podBrokers: process.env.LOGAGENT_TEST_POD_BROKERS || brokers(),
    localNode: Boolean(process.env.LOGAGENT_TEST_K8S_CONTAINERD),
  };
}

// ---------------------------------------------------------------- the release

export interface InputSpec {
  name: string;
  paths: string[];
  topic: string;
  startAt?: 'beginning' | 'end';
}

export interface ReleaseOptions {
  /** LogAgent's image on the node. */
  image: ImageRef;
  mode?: 'native' | 'classic';
  /** configWatch.api.enabled: the API watch with its ServiceAccount and Role. */
  apiWatch?: boolean;
  inputs: InputSpec[];
  /** Bootstrap brokers as pods see them (default: the suite's). */
  podBrokers?: string;
  /** Seconds between two app lines. */
  intervalSeconds?: number;
  /** Seconds the app keeps writing after SIGTERM. */
  drainSeconds?: number;
  /** The chart's `shutdown` values (deadline, app drain, margin, grace override). */
  shutdown?: Record<string, number>;
  /** config.shutdown.quietMs. */
  quietMs?: number;
  /** The chart's `probes` values, merged over its defaults by helm. */
  probes?: Record<string, unknown>;
}

export interface Release {
  namespace: string;
  name: string;
  deployment: string;
  configMap: string;
  httpPort: number;
  /** terminationGracePeriodSeconds of the example pod, as the API server has it. */
  graceSeconds: number;
  /** The config that went into the ConfigMap (config.yaml), as an object. */
  config: Record<string, any>;
  /** When `helm install` started, epoch ms. */
  installStartedAt: number;
}

/** LogAgent's configuration as the chart renders it into config.yaml. */
export function agentConfig(podBrokers: string, inputs: InputSpec[], quietMs = 1000): Record<string, any> {
  return {
    kafka: { brokers: podBrokers.split(','), acks: 'all' },
    inputs: inputs.map((i) => ({ startAt: 'beginning', ...i })),
    shutdown: { quietMs },
    logLevel: 'info',
  };
}

/** The API server's port as the kubeconfig names it (pods on the node's network reach it on 127.0.0.1). */
async function apiServerPort(): Promise<string> {
  const server = (await kubectl(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'])).stdout.trim();
  return new URL(server).port || '443';
}

/**
 * `helm install --wait` of the chart with its example workload in
 * `namespace`. On the node's network the chart lets a rollout take the one
 * pod down (maxUnavailable 1), so helm's wait may not wait for the pod:
 * readyPod() does. LogAgent's HTTP port is a free port of this machine: on
 * the node's network every pod holds its own on the host.
 */
export async function installRelease(t: TestContext, namespace: string, o: ReleaseOptions): Promise<Release> {
  const env = k8sEnv();
  if (!env) throw new Error('no cluster (guard the test with k8sSkip())');
  const sc = sidecarEnv();
  const name = 'e2e';
  const httpPort = await freePort();
  const config = agentConfig(o.podBrokers ?? sc.podBrokers, o.inputs, o.quietMs);
  const extraEnv: { name: string; value: string }[] = [];
  if (o.apiWatch && sc.hostNetwork) {
    // In-cluster config names the `kubernetes` service IP, which nothing
    // routes on the local node (no kube-proxy); on the node's network the
    // API server is on loopback (docs/k8s-local.md).
    extraEnv.push(
      { name: 'KUBERNETES_SERVICE_HOST', value: '127.0.0.1' },
      { name: 'KUBERNETES_SERVICE_PORT', value: await apiServerPort() },
    );
  }
  const values = {
    image: { ...o.image, pullPolicy: 'Never' },
    mode: o.mode ?? 'native',
    httpPort,
    config,
    env: extraEnv,
    ...(o.shutdown ? { shutdown: o.shutdown } : {}),
    ...(o.probes ? { probes: o.probes } : {}),
    configWatch: { api: { enabled: o.apiWatch ?? false } },
    example: {
      enabled: true,
      hostNetwork: sc.hostNetwork,
      intervalSeconds: o.intervalSeconds ?? 0.1,
      drainSeconds: o.drainSeconds ?? 0,
      image: { ...sc.appImage, pullPolicy: 'Never' },
    },
  };
  const file = join(tmpDir(t, 'logagent-e2e-values-'), 'values.yaml');
  writeFileSync(file, stringify(values));
  const startedAt = Date.now();
  try {
    await helmOk(
      ['install', name, CHART, '--namespace', namespace, '--kubeconfig', env.kubeconfig, '--values', file, '--wait', '--timeout', '180s'],
      { timeoutMs: 200_000 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${await describePods(namespace)}`, { cause: err });
  }
  const deployment = `${name}-logagent-example`;
  const dep = await kubectlJson(['get', 'deployment', deployment], { namespace });
  return {
    namespace,
    name,
    deployment,
    configMap: `${name}-logagent`,
    httpPort,
    graceSeconds: Number(dep.spec.template.spec.terminationGracePeriodSeconds),
    config,
    installStartedAt: startedAt,
  };
}

/** `helm uninstall --wait`: the Deployment goes, its pod terminates gracefully. */
export async function uninstallRelease(r: Release): Promise<void> {
  const env = k8sEnv();
  if (!env) throw new Error('no cluster');
  await helmOk(['uninstall', r.name, '--namespace', r.namespace, '--kubeconfig', env.kubeconfig, '--wait', '--timeout', '120s'], {
    timeoutMs: 150_000,
  });
}

/** Pods, events and the last log lines of a namespace: the context a failed wait needs. */
export async function describePods(namespace: string): Promise<string> {
  const parts = await Promise.all([
    kubectl(['get', 'pods', '-o', 'wide'], { namespace, allowFailure: true }),
    kubectl(['get', 'events', '--sort-by=.lastTimestamp'], { namespace, allowFailure: true }),
    kubectl(['logs', '-l', 'app.kubernetes.io/component=example', '--all-containers', '--tail=30', '--prefix'], {
      namespace,
      allowFailure: true,
    }),
  ]);
  return parts.map((p) => p.stdout + p.stderr).join('\n');
}

/** The example pods of a release that are not being deleted. */
export async function livePods(r: Release): Promise<any[]> {
  const list = await kubectlJson(['get', 'pods', '-l', `app.kubernetes.io/instance=${r.name},app.kubernetes.io/component=example`], {
    namespace: r.namespace,
  });
  return (list.items as any[]).filter((p) => !p.metadata.deletionTimestamp);
}

/** The one running example pod, Ready. */
export async function readyPod(r: Release, timeoutMs = 120_000): Promise<any> {
  return waitFor(
    async () => {
      const pods = await livePods(r);
      if (pods.length !== 1) return undefined;
      const pod = pods[0];
      return (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True') ? pod : undefined;
    },
    { timeoutMs, what: `one Ready example pod in ${r.namespace}` },
  );
}

/** A container's status, native sidecars (init containers) included. */
export function containerStatus(pod: any, name: string): any {
  const all = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return all.find((s: any) => s.name === name);
}

/** A container of the pod spec, from either list. */
export function specContainer(pod: any, name: string): any {
  return [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])].find((c: any) => c.name === name);
}

export interface Edit {
  /** When the update request left, epoch ms: the edit happened after this. */
  sentAt: number;
  /** When the API server's answer was back: the edit happened before this. */
  doneAt: number;
}

/**
 * Replaces config.yaml of the release's ConfigMap, what `kubectl edit`
 * does, with one PUT from this process (client-node), so the time of the
 * edit is known to a few ms; kubectl's own start-up would blur it by ~0.2 s.
 */
export async function editConfig(r: Release, text: string): Promise<Edit> {
  const env = k8sEnv();
  if (!env) throw new Error('no cluster');
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(env.kubeconfig);
  const api = kc.makeApiClient(k8s.CoreV1Api);
  const cm = await api.readNamespacedConfigMap({ name: r.configMap, namespace: r.namespace });
  cm.data = { ...cm.data, 'config.yaml': text };
  const sentAt = Date.now();
  await api.replaceNamespacedConfigMap({ name: r.configMap, namespace: r.namespace, body: cm });
  return { sentAt, doneAt: Date.now() };
}

/**
 * GET on LogAgent's HTTP server from inside its container (node is there;
 * the image has no shell or curl): the port is reached the way the probes
 * reach it, on the pod network as on the node's.
 */
export async function agentHttp(r: Release, pod: string, path: string): Promise<{ status: number; body: string }> {
  const script = `fetch('http://127.0.0.1:${r.httpPort}${path}').then(async (res) => console.log(JSON.stringify({ status: res.status, body: await res.text() })))`;
  return JSON.parse(await podExec(r.namespace, pod, 'logagent', ['node', '-e', script])) as { status: number; body: string };
}

// ---------------------------------------------------------------- LogAgent's logs

export type LogRecord = Record<string, any> & { msg?: string; time?: string };

export function parseLog(text: string): LogRecord[] {
  const out: LogRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogRecord);
    } catch {
      // a line cut by the stream's end
    }
  }
  return out;
}

/** `kubectl logs` of a container, parsed. */
export async function containerLog(namespace: string, pod: string, container = 'logagent'): Promise<LogRecord[]> {
  return parseLog((await kubectl(['logs', pod, '-c', container], { namespace })).stdout);
}

/** Waits until LogAgent logged a record that satisfies `pred`; returns it. */
export async function waitForLog(
  namespace: string,
  pod: string,
  pred: (r: LogRecord) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<LogRecord> {
  return waitFor(async () => (await containerLog(namespace, pod)).find(pred), { timeoutMs, intervalMs: 100, what });
}

export function logTime(r: LogRecord): number {
  const t = Date.parse(String(r.time));
  if (Number.isNaN(t)) throw new Error(`log record without a time: ${JSON.stringify(r)}`);
  return t;
}

// ---------------------------------------------------------------- the app's lines in Kafka

export interface AppLine {
  pod: string;
  seq: number;
  final: boolean;
}

const APP_LINE = /^\S+ pod=(\S+) seq=(\d+)( final)?$/;

/** The example app's lines among the messages (anything else is ignored). */
export function appLines(messages: readonly Consumed[]): AppLine[] {
  const out: AppLine[] = [];
  for (const m of messages) {
    const hit = APP_LINE.exec(m.value);
    if (hit) out.push({ pod: hit[1] as string, seq: Number(hit[2]), final: hit[3] !== undefined });
  }
  return out;
}

export interface SeqReport {
  /** Sequence numbers of the pod's lines, in arrival order. */
  seqs: number[];
  /** Highest sequence number that arrived (0 if none). */
  max: number;
  /** seq of the app's final line, if it arrived. */
  final: number | undefined;
  /** Numbers in 1..max that never arrived. */
  missing: number[];
  /** Numbers that arrived more than once. */
  repeated: number[];
}

export function seqReport(lines: readonly AppLine[], pod: string): SeqReport {
  const mine = lines.filter((l) => l.pod === pod);
  const counts = new Map<number, number>();
  for (const l of mine) counts.set(l.seq, (counts.get(l.seq) ?? 0) + 1);
  const max = Math.max(0, ...counts.keys());
  const missing: number[] = [];
  for (let i = 1; i <= max; i++) if (!counts.has(i)) missing.push(i);
  return {
    seqs: mine.map((l) => l.seq),
    max,
    final: mine.find((l) => l.final)?.seq,
    missing,
    repeated: [...counts].filter(([, n]) => n > 1).map(([s]) => s),
  };
}

// ---------------------------------------------------------------- processes seen from the host

/**
 * The host pid of a container's PID 1: the process whose cgroup path names
 * the container id and whose pid in its own namespace is 1. Undefined when
 * the node's processes are not visible here (a remote cluster).
 */
export function hostPidOf(containerId: string): number | undefined {
  const id = containerId.replace(/^[a-z]+:\/\//, '');
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(id)) continue;
      const nspid = /^NSpid:\s*(.*)$/m
        .exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]
        ?.trim()
        .split(/\s+/);
      if (nspid?.at(-1) === '1') return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** `/proc/PID/status` fields of a process, by name. */
export function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return out;
}

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is the state (field 3); starttime is field 22.
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

export interface ExitWatch {
  /** When the process was first seen gone (or a zombie), epoch ms; within ~5 ms of its exit. */
  exitedAt(): number | undefined;
  stop(): void;
}

/** Polls /proc every few ms for a process to exit (a recycled pid counts as exited: the start time differs). */
export function watchExit(pid: number): ExitWatch {
  const started = startTimeOf(pid);
  let exitedAt: number | undefined = started === undefined ? Date.now() : undefined;
  const timer = setInterval(() => {
    if (exitedAt === undefined && startTimeOf(pid) !== started) exitedAt = Date.now();
    if (exitedAt !== undefined) clearInterval(timer);
  }, 5);
  return { exitedAt: () => exitedAt, stop: () => clearInterval(timer) };
}

// ---------------------------------------------------------------- a pod deletion, observed

/** Splits kubectl's stream of pretty-printed JSON objects (`get -w -o json`) into objects. */
export function jsonObjects(text: string): any[] {
  const out: any[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && --depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
  }
  return out;
}

/** A long-running kubectl (logs -f, get -w) whose output is collected until it ends or is stopped. */
function kubectlStream(args: string[], namespace: string): { output(): string; ended: Promise<void>; stop(): void } {
  const env = k8sEnv();
  if (!env) throw new Error('no cluster');
  const child = spawn(env.kubectl, ['--kubeconfig', env.kubeconfig, '--namespace', namespace, ...args], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const ended = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return { output: () => out, ended, stop: () => child.kill('SIGTERM') };
}

export interface Terminated {
  exitCode: number;
  reason: string;
  startedAt: string;
  finishedAt: string;
}

export interface Deletion {
  deletedAt: number;
  /** When the pod object was gone. */
  goneAt: number;
  /** The last `terminated` state the pod status showed per container. */
  terminated: Map<string, Terminated>;
  /** Exit of each container's PID 1 seen in /proc (undefined where not visible). */
  exitedAt: Map<string, number | undefined>;
  /** LogAgent's whole log, followed until the container ended. */
  agentLog: LogRecord[];
}

/**
 * `kubectl delete pod` (graceful) while watching: the pod's status (the
 * kubelet posts every container's termination before it removes the pod),
 * LogAgent's log stream, and the containers' processes on the host.
 */
export async function deletePodObserved(namespace: string, pod: any, containers: string[], timeoutMs: number): Promise<Deletion> {
  const name = String(pod.metadata.name);
  const watches = new Map<string, ExitWatch | undefined>();
  for (const c of containers) {
    const id = containerStatus(pod, c)?.containerID as string | undefined;
    const pid = id ? hostPidOf(id) : undefined;
    watches.set(c, pid === undefined ? undefined : watchExit(pid));
  }
  const logs = kubectlStream(['logs', '-f', name, '-c', 'logagent'], namespace);
  const statuses = kubectlStream(['get', 'pod', name, '--watch', '--output-watch-events', '-o', 'json'], namespace);
  try {
    const deletedAt = Date.now();
    await kubectl(['delete', 'pod', name, '--wait=false'], { namespace });
    await waitForPodGone(namespace, name, timeoutMs);
    const goneAt = Date.now();
    await Promise.race([logs.ended, new Promise((r) => setTimeout(r, 10_000))]);
    const terminated = new Map<string, Terminated>();
    for (const event of jsonObjects(statuses.output())) {
      for (const c of containers) {
        const state = containerStatus(event.object ?? event, c)?.state?.terminated as Terminated | undefined;
        if (state) terminated.set(c, state);
      }
    }
    const exitedAt = new Map<string, number | undefined>();
    for (const [c, w] of watches) exitedAt.set(c, w?.exitedAt());
    return { deletedAt, goneAt, terminated, exitedAt, agentLog: parseLog(logs.output()) };
  } finally {
    logs.stop();
    statuses.stop();
    for (const w of watches.values()) w?.stop();
  }
}

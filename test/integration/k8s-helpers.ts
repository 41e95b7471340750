// Helpers for integration tests against the local Kubernetes of
// scripts/k8s-local.sh (a real kube-apiserver, and with `start --node` a real
// kubelet that runs pods). scripts/test.sh starts it and exports:
//   LOGAGENT_TEST_KUBECONFIG  admin kubeconfig (unset: k8s tests skip)
//   LOGAGENT_TEST_K8S_DIR     its run dir (restricted kubeconfig, logs)
//   LOGAGENT_TEST_KUBECTL     the pinned kubectl (else `kubectl` from PATH)
//   LOGAGENT_TEST_HELM        the pinned helm, when built
//   LOGAGENT_TEST_K8S_NODE    "1" when a node runs pods
// Usage:
//   test('x', { skip: k8sSkip({ node: true }) }, async (t) => {
//     const ns = await createNamespace(t);          // deleted in t.after
//     await applyYaml(manifest, { namespace: ns });
//     const pod = await waitForPodReady(ns, 'p');
//     const out = await podExec(ns, 'p', 'c', ['cat', '/x']);
//   });
// Every wait has a deadline and says what it waited for when it times out.

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const K8S_LOCAL = join(ROOT, 'scripts', 'k8s-local.sh');
/** Images that `k8s-local.sh start --node` imports (made offline, never pulled). */
export const BUSYBOX_IMAGE = 'localhost/logagent/busybox:1';
export const PAUSE_IMAGE = 'localhost/logagent/pause:1';

export interface K8sEnv {
  /** Admin kubeconfig (user "admin", group system:masters). */
  kubeconfig: string;
  /** Kubeconfig of user "restricted": no groups, so only what RBAC grants. */
  restrictedKubeconfig: string;
  /** Run dir of scripts/k8s-local.sh (logs/, pki/, tokens). */
  dir: string;
  kubectl: string;
  /** The pinned helm binary, when scripts/k8s-build.sh built it. */
  helm: string | undefined;
  /** True when a kubelet runs pods (start --node). */
  node: boolean;
}

/** The cluster the suite was given, or undefined when k8s tests are to skip. */
export function k8sEnv(): K8sEnv | undefined {
  const kubeconfig = process.env.LOGAGENT_TEST_KUBECONFIG;
  if (!kubeconfig) return undefined;
  const dir = process.env.LOGAGENT_TEST_K8S_DIR ?? dirname(kubeconfig);
  const helm = process.env.LOGAGENT_TEST_HELM;
  return {
    kubeconfig,
    restrictedKubeconfig: join(dir, 'kubeconfig-restricted'),
    dir,
    kubectl: process.env.LOGAGENT_TEST_KUBECTL || 'kubectl',
    helm: helm && existsSync(helm) ? helm : undefined,
    node: process.env.LOGAGENT_TEST_K8S_NODE === '1',
  };
}

/**
 * The `skip` option for a test that needs the cluster: false when it is there,
 * else the reason (node's runner prints it). With `node: true` the test also
 * needs a kubelet that runs pods.
 */
export function k8sSkip(need: { node?: boolean } = {}): string | false {
  const env = k8sEnv();
  if (!env) return 'LOGAGENT_TEST_KUBECONFIG is unset: no local Kubernetes (scripts/k8s-build.sh all, then scripts/test.sh)';
  if (need.node && !env.node) return 'the local Kubernetes has no node (scripts/k8s-local.sh start --node)';
  return false;
}

function requireEnv(): K8sEnv {
  const env = k8sEnv();
  if (!env) throw new Error('LOGAGENT_TEST_KUBECONFIG is unset (guard the test with k8sSkip())');
  return env;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. a manifest for `apply -f -`). */
  input?: string;
  /** Defaults to the admin kubeconfig. */
  kubeconfig?: string;
  /** Adds `--namespace NS`. */
  namespace?: string;
  /** Kills kubectl after this long (default 60 s). */
  timeoutMs?: number;
  /** Resolve with the result instead of rejecting when kubectl exits non-zero. */
  allowFailure?: boolean;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the pinned kubectl. Rejects on a non-zero exit (with its stderr in the
 * message) unless `allowFailure`, in which case the caller reads `code`.
 */
export function kubectl(args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  const env = requireEnv();
  const full = ['--kubeconfig', opts.kubeconfig ?? env.kubeconfig, ...(opts.namespace ? ['--namespace', opts.namespace] : []), ...args];
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(env.kubectl, full, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (result.code === 0 || opts.allowFailure) resolvePromise(result);
      else
        reject(new Error(`kubectl ${args.join(' ')} exited ${signal ? `on ${signal} (timeout ${timeoutMs} ms)` : code}: ${stderr.trim()}`));
    });
    child.stdin.on('error', () => undefined); // kubectl may exit before reading all of it
    child.stdin.end(opts.input ?? '');
  });
}

/** `kubectl ... -o json`, parsed. */
export async function kubectlJson<T = any>(args: string[], opts: KubectlOptions = {}): Promise<T> {
  const { stdout } = await kubectl([...args, '-o', 'json'], opts);
  return JSON.parse(stdout) as T;
}

/** `kubectl apply -f -` of one or more YAML documents; returns kubectl's output. */
export async function applyYaml(yaml: string, opts: Omit<KubectlOptions, 'input'> = {}): Promise<string> {
  return (await kubectl(['apply', '-f', '-'], { ...opts, input: yaml })).stdout;
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Named in the timeout error: "timed out after N ms waiting for <what>". */
  what?: string;
}

/**
 * Polls `probe` until it returns something other than undefined/false/null and
 * returns that. A throwing probe counts as "not yet"; its last error is part
 * of the timeout error.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? `; last error: ${last.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}${why}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}

/**
 * A fresh namespace for one test, deleted in t.after (without waiting: the
 * cluster is thrown away at the end of the run anyway). On a node it also
 * waits for the namespace's "default" service account, without which the API
 * server rejects pods.
 */
export async function createNamespace(t: TestContext, prefix = 't'): Promise<string> {
  const env = requireEnv();
  const name = `${prefix}-${randomUUID().slice(0, 8)}`.toLowerCase();
  await kubectl(['create', 'namespace', name]);
  t.after(async () => {
    await kubectl(['delete', 'namespace', name, '--wait=false', '--ignore-not-found'], { allowFailure: true });
  });
  if (env.node) {
    await waitFor(async () => (await kubectl(['get', 'serviceaccount', 'default'], { namespace: name, allowFailure: true })).code === 0, {
      what: `service account default in namespace ${name}`,
    });
  }
  return name;
}

/** Waits until the pod is Ready (all containers, native sidecars included) and returns it. */
export async function waitForPodReady(namespace: string, name: string, timeoutMs = 60_000): Promise<any> {
  return waitFor(
    async () => {
      const pod = await kubectlJson(['get', 'pod', name], { namespace });
      if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') {
        throw new Error(`pod ${namespace}/${name} is ${pod.status.phase}: ${JSON.stringify(pod.status)}`);
      }
      const ready = (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
      return ready ? pod : undefined;
    },
    { timeoutMs, what: `pod ${namespace}/${name} Ready` },
  );
}

/** Waits until the pod no longer exists (e.g. after a graceful delete). */
export async function waitForPodGone(namespace: string, name: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => (await kubectl(['get', 'pod', name, '--ignore-not-found', '-o', 'name'], { namespace })).stdout.trim() === '', {
    timeoutMs,
    what: `pod ${namespace}/${name} to be gone`,
  });
}

/** `kubectl exec` in a container; returns its stdout (goes API server -> kubelet -> containerd). */
export async function podExec(namespace: string, pod: string, container: string, command: string[], timeoutMs = 30_000): Promise<string> {
  return (await kubectl(['exec', pod, '-c', container, '--', ...command], { namespace, timeoutMs })).stdout;
}

/** `kubectl auth can-i` as the given kubeconfig's user (admin by default). */
export async function canI(verb: string, resource: string, opts: { namespace?: string; kubeconfig?: string } = {}): Promise<boolean> {
  const r = await kubectl(['auth', 'can-i', verb, resource], { ...opts, allowFailure: true });
  return r.stdout.trim() === 'yes';
}

/** Loads an image tarball (`docker save` or OCI) into the node's containerd; pods then use imagePullPolicy: Never. */
export async function importImage(tarball: string): Promise<void> {
  const env = requireEnv();
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn('bash', [K8S_LOCAL, 'import-image', tarball], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, K8S_LOCAL_DIR: env.dir },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolvePromise() : reject(new Error(`import-image ${tarball} exited ${code}: ${stderr.trim()}`)),
    );
  });
}

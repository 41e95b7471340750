// Helpers for the chart tests: the real helm binary (LOGAGENT_TEST_HELM, built
// by scripts/k8s-build.sh; the tests skip without it), rendering to parsed
// objects, and finders over the rendered pod specs. helm runs with its
// cache, config and data homes in a temp dir, so the tests neither read nor
// write the user's helm setup.

import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART = join(ROOT, 'helm', 'logagent');
export const PARENT_CHART = join(ROOT, 'helm', 'examples', 'web-app');
/** The values the kind end-to-end run installs (scripts/kind-e2e.sh). */
export const KIND_VALUES = join(ROOT, 'test', 'kind', 'values.yaml');
/** The Kubernetes version templates are rendered for unless a test says otherwise (the local API server's). */
export const KUBE_VERSION = '1.34.0';

/** helm/logagent/ci/<name>-values.yaml, by name ("native", "classic", ...). */
export const CI_VALUES: ReadonlyMap<string, string> = new Map(
  readdirSync(join(CHART, 'ci'))
    .filter((f) => f.endsWith('-values.yaml'))
    .sort()
    .map((f) => [f.replace(/-values\.yaml$/, ''), join(CHART, 'ci', f)]),
);

export function helmBin(): string | undefined {
  const bin = process.env.LOGAGENT_TEST_HELM;
  return bin && existsSync(bin) ? bin : undefined;
}

/** The `skip` option of a test that needs helm: false when it is there, else why not. */
export function helmSkip(): string | false {
  if (helmBin()) return false;
  return process.env.LOGAGENT_TEST_HELM
    ? `LOGAGENT_TEST_HELM=${process.env.LOGAGENT_TEST_HELM} does not exist`
    : 'LOGAGENT_TEST_HELM is unset: no helm binary (bash scripts/k8s-build.sh helm builds it; scripts/test.sh then exports it)';
}

let helmHome: string | undefined;
function helmEnv(): NodeJS.ProcessEnv {
  if (helmHome === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'logagent-helm-home-'));
    helmHome = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return {
    ...process.env,
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm; resolves with its exit code and output, whatever the code. */
export function helm(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const bin = helmBin();
  if (bin === undefined) throw new Error('helm is not available (guard the test with helmSkip())');
  return new Promise((resolvePromise) => {
    execFile(
      bin,
      args,
      { cwd: opts.cwd ?? ROOT, env: helmEnv(), maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 120_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

/** helm, rejecting with its stderr when it fails. */
export async function helmOk(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const r = await helm(args, opts);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

export interface RenderOptions {
  chart?: string;
  release?: string;
  namespace?: string;
  values?: readonly string[];
  set?: readonly string[];
  kubeVersion?: string;
}

export function templateArgs(o: RenderOptions = {}): string[] {
  return [
    'template',
    o.release ?? 'ci',
    o.chart ?? CHART,
    '--namespace',
    o.namespace ?? 'apps',
    '--kube-version',
    o.kubeVersion ?? KUBE_VERSION,
    ...(o.values ?? []).flatMap((f) => ['--values', f]),
    ...(o.set ?? []).flatMap((s) => ['--set', s]),
  ];
}

/** A Kubernetes object as parsed from YAML. */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; [key: string]: any }; [key: string]: any };

export function parseObjects(yaml: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(yaml)) {
    if (doc.errors.length > 0) throw new Error(`helm rendered invalid YAML: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value !== null) out.push(value);
  }
  return out;
}

/** `helm template`, parsed into objects; rejects with helm's error. */
export async function render(o: RenderOptions = {}): Promise<K8sObject[]> {
  return parseObjects((await helmOk(templateArgs(o))).stdout);
}

/** `helm template` that is expected to fail: its stderr (rejects if it rendered). */
export async function renderError(o: RenderOptions = {}): Promise<string> {
  const r = await helm(templateArgs(o));
  if (r.code === 0) throw new Error(`helm template ${JSON.stringify(o)} rendered, but was expected to fail`);
  return r.stderr;
}

export function objectsOf(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

/** The one object of that kind; throws when there are none or several. */
export function only(objects: K8sObject[], kind: string): K8sObject {
  const found = objectsOf(objects, kind);
  if (found.length !== 1)
    throw new Error(`expected one ${kind}, rendered ${found.length}: ${found.map((o) => o.metadata.name).join(', ')}`);
  return found[0] as K8sObject;
}

export function podSpec(workload: K8sObject): any {
  const spec = workload.spec?.template?.spec;
  if (spec === undefined) throw new Error(`${workload.kind} ${workload.metadata.name} has no pod template`);
  return spec;
}

export interface Located {
  container: any;
  list: 'initContainers' | 'containers';
}

/** The named container and the list it is in; throws if it is missing or listed twice. */
export function findContainer(spec: any, name: string): Located {
  const found: Located[] = [];
  for (const list of ['initContainers', 'containers'] as const) {
    for (const c of spec[list] ?? []) if (c.name === name) found.push({ container: c, list });
  }
  if (found.length !== 1) throw new Error(`container ${name}: found ${found.length} times in the pod spec`);
  return found[0] as Located;
}

export function envValue(container: any, name: string): string | undefined {
  return (container.env ?? []).find((e: any) => e.name === name)?.value;
}

/** Calls fn for every key/value pair in the object tree, with its path. */
export function walk(value: unknown, fn: (key: string, value: unknown, path: string) => void, path = ''): void {
  if (Array.isArray(value)) value.forEach((v, i) => walk(v, fn, `${path}[${i}]`));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      fn(k, v, `${path}.${k}`);
      walk(v, fn, `${path}.${k}`);
    }
  }
}

/** config.yaml of the rendered ConfigMap, parsed. */
export function renderedConfig(objects: K8sObject[]): any {
  const cm = only(objects, 'ConfigMap');
  const text = cm.data?.['config.yaml'];
  if (typeof text !== 'string') throw new Error(`ConfigMap ${cm.metadata.name} has no config.yaml`);
  return parseYaml(text);
}

/**
 * A copy of helm/ in a temp dir with the example parent chart's dependency
 * built (`helm dependency build` packs ../../logagent into its charts/), so
 * the repository is left untouched. Returns the parent chart's path.
 * `edit` may rewrite the copied parent Chart.yaml (parsed) first.
 */
export async function parentChartCopy(t: TestContext, edit?: (chart: any) => void): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-parent-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(ROOT, 'helm'), join(dir, 'helm'), { recursive: true });
  const parent = join(dir, 'helm', 'examples', 'web-app');
  rmSync(join(parent, 'charts'), { recursive: true, force: true });
  rmSync(join(parent, 'Chart.lock'), { force: true });
  if (edit) {
    const file = join(parent, 'Chart.yaml');
    const chart = parseYaml(readFileSync(file, 'utf8'));
    edit(chart);
    writeFileSync(file, stringify(chart));
  }
  await helmOk(['dependency', 'build', parent]);
  return parent;
}

// The chart against a real kube-apiserver (scripts/k8s-local.sh here, kind in
// scripts/kind-e2e.sh): every rendered variant passes the server-side dry run
// with strict field validation, `helm install` succeeds and the API server
// keeps the native sidecar as rendered, and the chart's ServiceAccount may
// get, list and watch its ConfigMap and nothing else. Pods need not run
// (the API-server-only cluster has no kubelet), so nothing waits for them.
// Skipped, with the reason, without helm or without a cluster.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createNamespace, k8sEnv, k8sSkip, kubectl, kubectlJson } from './k8s-helpers.ts';
import {
  CHART,
  CI_VALUES,
  KIND_VALUES,
  helm,
  helmOk,
  helmSkip,
  parentChartCopy,
  parseObjects,
  templateArgs,
  type RenderOptions,
} from './helm-helpers.ts';

const skip = helmSkip() || k8sSkip();

/** The server's version, for `helm template --kube-version` (capabilities as `helm install` would see them). */
async function serverVersion(): Promise<string> {
  const v = await kubectlJson(['version']);
  return String(v.serverVersion.gitVersion);
}

function kubeconfigArgs(): string[] {
  const env = k8sEnv();
  if (!env) throw new Error('no cluster (guard the test with k8sSkip())');
  return ['--kubeconfig', env.kubeconfig];
}

async function dryRun(o: RenderOptions, namespace: string): Promise<string> {
  const yaml = (await helmOk(templateArgs({ ...o, namespace }))).stdout;
  const r = await kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], { namespace, input: yaml, allowFailure: true });
  assert.equal(r.code, 0, `server-side dry run of ${JSON.stringify(o)}:\n${r.stderr}`);
  const applied = r.stdout.trim().split('\n');
  assert.equal(applied.length, parseObjects(yaml).length, r.stdout);
  for (const line of applied) assert.match(line, /\(server dry run\)$/);
  return r.stdout;
}

test('strict server-side validation is on: a misspelt field is refused', { skip }, async (t) => {
  const ns = await createNamespace(t, 'helm-strict');
  const r = await kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], {
    namespace: ns,
    allowFailure: true,
    input: 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\ndata: { a: b }\nbinaryDatta: {}\n',
  });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /unknown field "binaryDatta"/);
});

test('every values variant and the example parent chart pass the server-side dry run with strict validation', { skip }, async (t) => {
  const ns = await createNamespace(t, 'helm-dry');
  const kubeVersion = await serverVersion();
  const variants: [string, RenderOptions][] = [
    ...[...CI_VALUES].map(([name, file]): [string, RenderOptions] => [name, { values: [file], kubeVersion }]),
    ['kind', { values: [KIND_VALUES], kubeVersion }],
  ];
  const parent = await parentChartCopy(t);
  variants.push(['web-app native', { chart: parent, kubeVersion }]);
  variants.push([
    'web-app classic + API watch',
    { chart: parent, kubeVersion, set: ['logagent.mode=classic', 'logagent.configWatch.api.enabled=true'] },
  ]);
  for (const [name, o] of variants) {
    await t.test(name, async () => {
      await dryRun({ ...o, release: name.replace(/[^a-z]+/g, '-').replace(/-$/, '') }, ns);
    });
  }
});

test('helm install succeeds; the API server keeps LogAgent as a native sidecar; NOTES say what to edit', { skip }, async (t) => {
  const ns = await createNamespace(t, 'helm-install');
  // replicas 0: on a cluster with a node no pod starts (the image is not there); the objects are what is checked.
  const install = await helm(
    [
      'install',
      'web',
      CHART,
      '--namespace',
      ns,
      '--values',
      CI_VALUES.get('api-watch') ?? '',
      '--set',
      'example.replicas=0',
      ...kubeconfigArgs(),
    ],
    { timeoutMs: 180_000 },
  );
  assert.equal(install.code, 0, install.stderr);
  t.after(() => helm(['uninstall', 'web', '--namespace', ns, ...kubeconfigArgs()]));
  assert.match(install.stdout, /STATUS: deployed/);
  assert.match(install.stdout, new RegExp(`kubectl -n ${ns} edit configmap web-logagent`));
  assert.match(
    install.stdout,
    /API watch: on\. ServiceAccount web-logagent may get, list and watch\s+ConfigMap web-logagent and nothing else/,
  );
  assert.match(install.stdout, /terminationGracePeriodSeconds: 40/);

  const status = await helmOk(['status', 'web', '--namespace', ns, '-o', 'json', ...kubeconfigArgs()]);
  assert.equal(JSON.parse(status.stdout).info.status, 'deployed');

  const deployment = await kubectlJson(['get', 'deployment', 'web-logagent-example'], { namespace: ns });
  const spec = deployment.spec.template.spec;
  assert.deepEqual(
    spec.initContainers.map((c: any) => [c.name, c.restartPolicy, c.startupProbe?.httpGet?.path]),
    [['logagent', 'Always', '/readyz']],
  );
  assert.equal(spec.serviceAccountName, 'web-logagent');
  const cm = await kubectlJson(['get', 'configmap', 'web-logagent'], { namespace: ns });
  assert.match(cm.data['config.yaml'], /topic: app_log/);
  for (const kind of ['serviceaccount', 'role', 'rolebinding']) {
    const items = (await kubectlJson(['get', kind, '-l', 'app.kubernetes.io/instance=web'], { namespace: ns })).items;
    assert.equal(items.length, 1, kind);
  }

  const uninstall = await helm(['uninstall', 'web', '--namespace', ns, ...kubeconfigArgs()]);
  assert.equal(uninstall.code, 0, uninstall.stderr);
  assert.equal(
    (await kubectl(['get', 'configmap', 'web-logagent', '--ignore-not-found', '-o', 'name'], { namespace: ns })).stdout.trim(),
    '',
  );
});

test("the chart's ServiceAccount may get, list and watch its ConfigMap and nothing else", { skip }, async (t) => {
  const ns = await createNamespace(t, 'helm-rbac');
  const install = await helm(['install', 'web', CHART, '--namespace', ns, '--set', 'configWatch.api.enabled=true', ...kubeconfigArgs()]);
  assert.equal(install.code, 0, install.stderr);
  t.after(() => helm(['uninstall', 'web', '--namespace', ns, ...kubeconfigArgs()]));
  await kubectl(['create', 'configmap', 'other', '--from-literal=a=b'], { namespace: ns });
  const other = await createNamespace(t, 'helm-rbac-other');
  await kubectl(['create', 'configmap', 'web-logagent', '--from-literal=a=b'], { namespace: other });

  const as = `--as=system:serviceaccount:${ns}:web-logagent`;
  const canI = async (verb: string, resource: string, namespace = ns) =>
    (await kubectl(['auth', 'can-i', verb, resource, as], { namespace, allowFailure: true })).stdout.trim();

  for (const verb of ['get', 'list', 'watch'])
    assert.equal(await canI(verb, 'configmaps/web-logagent'), 'yes', `${verb} configmaps/web-logagent`);
  const denied: [string, string, string?][] = [
    ['list', 'configmaps'],
    ['watch', 'configmaps'],
    ['get', 'configmaps/other'],
    ['update', 'configmaps/web-logagent'],
    ['patch', 'configmaps/web-logagent'],
    ['delete', 'configmaps/web-logagent'],
    ['create', 'configmaps'],
    ['get', 'secrets'],
    ['list', 'pods'],
    ['create', 'pods'],
    ['get', 'configmaps/web-logagent', other],
  ];
  for (const [verb, resource, namespace] of denied) {
    assert.equal(await canI(verb, resource, namespace), 'no', `${verb} ${resource} in ${namespace ?? ns}`);
  }

  // The requests LogAgent's watch makes: get by name, and list/watch with the
  // field selector on the name, which resourceNames requires.
  const raw = (path: string) => kubectl(['get', '--raw', path, as], { allowFailure: true, timeoutMs: 20_000 });
  const base = `/api/v1/namespaces/${ns}/configmaps`;
  const selector = 'fieldSelector=metadata.name%3Dweb-logagent';
  assert.equal((await raw(`${base}/web-logagent`)).code, 0);
  const listed = await raw(`${base}?${selector}`);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(
    JSON.parse(listed.stdout).items.map((i: any) => i.metadata.name),
    ['web-logagent'],
  );
  const watched = await raw(`${base}?${selector}&watch=true&timeoutSeconds=1`);
  assert.equal(watched.code, 0, watched.stderr);
  assert.match(watched.stdout, /"type":"ADDED"/);
  const unfiltered = await raw(base);
  assert.notEqual(unfiltered.code, 0);
  assert.match(unfiltered.stderr, /forbidden/i);
  const otherGet = await raw(`${base}/other`);
  assert.match(otherGet.stderr, /forbidden/i);
});

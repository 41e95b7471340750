// The local Kubernetes itself (scripts/k8s-local.sh): the API server answers,
// RBAC is enforced for the restricted user, and, with a node, real pods run:
// containers sharing an emptyDir, a ConfigMap volume the kubelet updates, a
// native sidecar, and SIGTERM on deletion. The chart and ConfigMap-watch tests
// build on exactly these behaviours, so they are proven here first.
// Skipped (with the reason) when scripts/test.sh found no k8s binaries.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  BUSYBOX_IMAGE,
  applyYaml,
  canI,
  createNamespace,
  k8sEnv,
  k8sSkip,
  kubectl,
  kubectlJson,
  podExec,
  waitFor,
  waitForPodGone,
  waitForPodReady,
} from './k8s-helpers.ts';

const skip = k8sSkip();
const skipNode = k8sSkip({ node: true });

test('the API server answers with the pinned version and is ready', { skip }, async () => {
  const version = await kubectlJson(['version']);
  assert.match(version.serverVersion.gitVersion, /^v1\.34\.\d+$/);
  assert.equal((await kubectl(['get', '--raw', '/readyz'])).stdout.trim(), 'ok');
  const whoami = await kubectlJson(['auth', 'whoami']);
  assert.equal(whoami.status.userInfo.username, 'admin');
  assert.ok(whoami.status.userInfo.groups.includes('system:masters'));
});

test('the restricted user is forbidden by default and gets exactly one ConfigMap through a Role', { skip }, async (t) => {
  const env = k8sEnv()!;
  const ns = await createNamespace(t, 'rbac');
  const as = { namespace: ns, kubeconfig: env.restrictedKubeconfig };
  await applyYaml(
    `apiVersion: v1
kind: ConfigMap
metadata: { name: allowed }
data: { key: one }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: other }
data: { key: two }
`,
    { namespace: ns },
  );

  const denied = await kubectl(['get', 'configmap', 'allowed'], { ...as, allowFailure: true });
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /forbidden/i);
  assert.equal(await canI('get', 'configmaps/allowed', as), false);

  await applyYaml(
    `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: read-allowed }
rules:
- apiGroups: [""]
  resources: [configmaps]
  resourceNames: [allowed]
  verbs: [get, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: restricted-read-allowed }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-allowed }
subjects:
- { apiGroup: rbac.authorization.k8s.io, kind: User, name: restricted }
`,
    { namespace: ns },
  );

  const cm = await waitFor(
    async () => {
      const r = await kubectl(['get', 'configmap', 'allowed', '-o', 'json'], { ...as, allowFailure: true });
      return r.code === 0 ? JSON.parse(r.stdout) : undefined;
    },
    { what: 'the RoleBinding to take effect' },
  );
  assert.equal(cm.data.key, 'one');
  // resourceNames limits it to that one object: not the other, and no list.
  assert.match((await kubectl(['get', 'configmap', 'other'], { ...as, allowFailure: true })).stderr, /forbidden/i);
  assert.match((await kubectl(['get', 'configmaps'], { ...as, allowFailure: true })).stderr, /forbidden/i);
  assert.equal(await canI('update', 'configmaps/allowed', as), false);
  assert.equal(await canI('get', 'configmaps/allowed', { kubeconfig: env.restrictedKubeconfig, namespace: 'default' }), false);
});

test('a pod runs: shared emptyDir, native sidecar, live ConfigMap volume, SIGTERM on delete', { skip: skipNode }, async (t) => {
  const ns = await createNamespace(t, 'pod');
  // The containers report the signals they get here; the test reads it after
  // the pod is gone (same machine, so a hostPath is the simplest channel).
  const signals = mkdtempSync(join(tmpdir(), 'logagent-k8s-signals-'));
  chmodSync(signals, 0o777);
  t.after(() => rmSync(signals, { recursive: true, force: true }));

  // sleep in the background + wait: busybox sh runs a trap only between
  // commands, and `wait` returns at once on a signal.
  const loop = (body: string, name: string) =>
    `trap 'echo ${name} >> /signals/got; exit 0' TERM; while true; do ${body}; sleep 1 & wait $!; done`;
  await applyYaml(
    `apiVersion: v1
kind: ConfigMap
metadata: { name: cfg }
data: { key: v1 }
---
apiVersion: v1
kind: Pod
metadata: { name: shared }
spec:
  terminationGracePeriodSeconds: 20
  automountServiceAccountToken: false
  dnsPolicy: Default
  volumes:
  - { name: shared, emptyDir: {} }
  - { name: cfg, configMap: { name: cfg } }
  - { name: signals, hostPath: { path: ${signals}, type: Directory } }
  initContainers:
  - name: sidecar
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: Never
    restartPolicy: Always
    command: [sh, -c, ${JSON.stringify(loop('echo up > /shared/sidecar', 'sidecar'))}]
    volumeMounts: [{ name: shared, mountPath: /shared }, { name: signals, mountPath: /signals }]
  containers:
  - name: writer
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: Never
    command: [sh, -c, ${JSON.stringify(loop('date +%s > /shared/written', 'writer'))}]
    volumeMounts: [{ name: shared, mountPath: /shared }, { name: signals, mountPath: /signals }]
  - name: reader
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: Never
    command: [sh, -c, ${JSON.stringify(loop('cat /config/key > /shared/seen', 'reader'))}]
    volumeMounts:
    - { name: shared, mountPath: /shared }
    - { name: cfg, mountPath: /config }
    - { name: signals, mountPath: /signals }
`,
    { namespace: ns },
  );

  const pod = await waitForPodReady(ns, 'shared', 90_000);
  const sidecar = pod.status.initContainerStatuses.find((s: any) => s.name === 'sidecar');
  assert.equal(sidecar.ready, true, 'the native sidecar runs alongside (ready), not to completion');
  assert.ok(sidecar.state.running, 'the sidecar is running');

  // Written by one container, read through another: one emptyDir.
  await waitFor(async () => /^\d+$/.test((await podExec(ns, 'shared', 'reader', ['cat', '/shared/written'])).trim()), {
    what: 'the writer container output in the reader container',
  });
  assert.equal((await podExec(ns, 'shared', 'writer', ['cat', '/shared/sidecar'])).trim(), 'up');
  assert.equal((await podExec(ns, 'shared', 'reader', ['cat', '/config/key'])).trim(), 'v1');

  // The kubelet rewrites the ConfigMap volume (syncFrequency 1s).
  const t0 = Date.now();
  await kubectl(['patch', 'configmap', 'cfg', '--type=merge', '-p', '{"data":{"key":"v2"}}'], { namespace: ns });
  await waitFor(async () => (await podExec(ns, 'shared', 'writer', ['cat', '/shared/seen'])).trim() === 'v2', {
    timeoutMs: 60_000,
    intervalMs: 200,
    what: 'the ConfigMap update in the mounted volume',
  });
  t.diagnostic(`ConfigMap update visible in the pod after ${Date.now() - t0} ms`);

  // A graceful delete: every container gets SIGTERM (the sidecar after the
  // main containers), and the traps record it.
  await kubectl(['delete', 'pod', 'shared', '--wait=false'], { namespace: ns });
  await waitForPodGone(ns, 'shared', 60_000);
  const got = existsSync(join(signals, 'got')) ? readFileSync(join(signals, 'got'), 'utf8').trim().split('\n').sort() : [];
  assert.deepEqual(got, ['reader', 'sidecar', 'writer'], 'each container handled SIGTERM');
});

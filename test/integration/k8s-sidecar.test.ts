// LogAgent as a sidecar in real pods, end to end: the chart's example
// workload (an app writing "<time> pod=<pod> seq=<n>" lines to a shared
// emptyDir, LogAgent beside it) installed with `helm install` on a node that
// runs pods, every line checked in Kafka per pod and sequence number. Pod
// deletion in native and classic mode, a rolling restart, ConfigMap edits
// through the kubelet's volume update and through the API watch, a bad edit,
// the securityContext as the kernel applies it, and a Kafka outage under the
// probes.
//
// Where it runs: the local node (scripts/k8s-local.sh start --node, exported
// by scripts/test.sh) with the image built from the Dockerfile on the
// stand-in bases and imported into the node's containerd once per file; or
// kind (scripts/kind-e2e.sh), which loads the image itself and says where
// it is and how pods reach its broker (sidecar-helpers.ts lists the
// variables). Pods on the local node reach the broker on the host's loopback
// only on the node's network (hostNetwork), so every release gets its own
// LogAgent HTTP port. Skipped, saying why, without a node or without a
// Docker engine to build the image.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test, type TestContext } from 'node:test';
import { stringify } from 'yaml';
import { asText, kafkaLocal, ownCluster, startConsumer, uniqueTopic, type LiveConsumer } from './helpers.ts';
import { helmSkip } from './helm-helpers.ts';
import { AGENT_ID, buildImage, dockerSkip, saveImage } from './image-helpers.ts';
import { createNamespace, importImage, k8sSkip, kubectl, kubectlJson, podExec, waitFor } from './k8s-helpers.ts';
import {
  agentConfig,
  agentHttp,
  appLines,
  containerLog,
  containerStatus,
  deletePodObserved,
  describePods,
  editConfig,
  hostPidOf,
  installRelease,
  logTime,
  procStatus,
  readyPod,
  seqReport,
  sidecarEnv,
  specContainer,
  splitImage,
  uninstallRelease,
  waitForLog,
  type Deletion,
  type ImageRef,
  type Release,
  type ReleaseOptions,
} from './sidecar-helpers.ts';

const sc = sidecarEnv();
const skip = k8sSkip({ node: true }) || helmSkip() || (sc.presetImage ? false : dockerSkip());
const APP_FILE = '/var/log/app/app.log';

let image: ImageRef = { repository: '', tag: '' };

before(
  async () => {
    if (skip) return;
    if (sc.presetImage) {
      image = splitImage(sc.presetImage);
      return;
    }
    const built = await buildImage();
    const dir = mkdtempSync(join(tmpdir(), 'logagent-e2e-image-'));
    const tarball = join(dir, 'logagent.tar');
    try {
      await saveImage(built.image, tarball);
      await importImage(tarball);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    image = splitImage(built.image);
  },
  { timeout: 900_000 },
);

/** The app's lines in a live consumer's messages, per pod. */
function report(live: LiveConsumer, pod: string) {
  return seqReport(appLines(live.messages.map(asText)), pod);
}

/** Waits until the pod's lines 1..n are all in the topic. */
async function waitForLines(live: LiveConsumer, pod: string, n: number, timeoutMs = 60_000): Promise<void> {
  await live.waitUntil(
    () => {
      const r = report(live, pod);
      return r.max >= n && r.missing.length === 0;
    },
    timeoutMs,
    `lines 1..${n} of ${pod}`,
  );
}

/**
 * Waits until the pod's final line arrived and no line of that pod came for
 * settleMs (a duplicate would have). Per pod: a Deployment's replacement pod
 * keeps writing to the same topic.
 */
async function waitForFinal(live: LiveConsumer, pod: string, timeoutMs = 60_000, settleMs = 1_500): Promise<void> {
  await live.waitUntil(() => report(live, pod).final !== undefined, timeoutMs, `the final line of ${pod}`);
  let count = -1;
  let since = Date.now();
  await live.waitUntil(
    () => {
      const n = report(live, pod).seqs.length;
      if (n !== count) {
        count = n;
        since = Date.now();
      }
      return Date.now() - since >= settleMs;
    },
    settleMs + 30_000,
    `no more lines of ${pod}`,
  );
}

/** Every line of the pod from 1 to its final one arrived exactly once. */
function assertEveryLineOnce(live: LiveConsumer, pod: string): number {
  const r = report(live, pod);
  assert.ok(r.final !== undefined, `the final line of ${pod} arrived (max seq ${r.max})`);
  assert.deepEqual(r.missing, [], `lines of ${pod} lost`);
  assert.deepEqual(r.repeated, [], `lines of ${pod} repeated`);
  assert.equal(r.final, r.max, 'nothing after the final line');
  return r.final;
}

function install(t: TestContext, ns: string, o: Omit<ReleaseOptions, 'image'>): Promise<Release> {
  return installRelease(t, ns, { image, ...o });
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

test(
  'helm install with the example workload: the app lines arrive exactly once, and after helm uninstall every line up to the final one',
  { skip, timeout: 300_000 },
  async (t) => {
    const ns = await createNamespace(t, 'e2e-install');
    const topic = uniqueTopic('e2e-install');
    const r = await install(t, ns, { inputs: [{ name: 'app', paths: [APP_FILE], topic }], intervalSeconds: 0.1 });
    const pod = await readyPod(r);
    t.diagnostic(`helm install -> pod Ready: ${seconds(Date.now() - r.installStartedAt)}`);
    const name = String(pod.metadata.name);
    const live = await startConsumer(t, topic);
    await waitForLines(live, name, 50);
    const running = report(live, name);
    assert.deepEqual(running.repeated, [], 'no line twice while the pod runs');
    assert.deepEqual(running.missing, [], 'lines arrive in order: no gap below the highest');
    assert.ok(
      live.messages.map(asText).every((m) => m.key === APP_FILE),
      'the key is the path of the file in the LogAgent container',
    );

    const startedAt = Date.now();
    await uninstallRelease(r);
    await waitFor(async () => (await kubectl(['get', 'pods', '-o', 'name'], { namespace: ns })).stdout.trim() === '', {
      timeoutMs: 90_000,
      what: 'the example pod gone after helm uninstall',
    });
    t.diagnostic(`helm uninstall until the pod is gone: ${seconds(Date.now() - startedAt)}`);
    await waitForFinal(live, name);
    const final = assertEveryLineOnce(live, name);
    t.diagnostic(`${final} lines of ${name}, each exactly once`);
  },
);

/** Termination figures of one deletion, for the diagnostics and the docs. */
function figures(d: Deletion): { appExit: number | undefined; agentExit: number | undefined; total: number } {
  const app = d.exitedAt.get('app');
  const agent = d.exitedAt.get('logagent');
  return { appExit: app && app - d.deletedAt, agentExit: agent && app && agent - app, total: d.goneAt - d.deletedAt };
}

for (const mode of ['native', 'classic'] as const) {
  test(
    `${mode} sidecar: a pod deleted while the app writes its last lines loses none; LogAgent ${mode === 'native' ? 'is signalled after the app exited and exits after it' : 'is signalled with the app and keeps reading while it drains'}, within the grace period`,
    { skip, timeout: 300_000 },
    async (t) => {
      const ns = await createNamespace(t, `e2e-${mode}`);
      const topic = uniqueTopic(`e2e-${mode}`);
      // The app writes every 50 ms and keeps writing for 2-3 s after SIGTERM
      // (whole seconds of its clock). Grace period: 4 + 10 + 2 = 16 s.
      const r = await install(t, ns, {
        mode,
        inputs: [{ name: 'app', paths: [APP_FILE], topic }],
        intervalSeconds: 0.05,
        drainSeconds: 3,
        shutdown: { appDrainSeconds: 4, deadlineMs: 10_000, marginSeconds: 2 },
      });
      const pod = await readyPod(r);
      const name = String(pod.metadata.name);
      const sidecar = containerStatus(pod, 'logagent');
      assert.equal(
        Boolean(pod.spec.initContainers?.some((c: any) => c.name === 'logagent' && c.restartPolicy === 'Always')),
        mode === 'native',
        `LogAgent is ${mode === 'native' ? 'a native sidecar' : 'a regular container'}`,
      );
      assert.equal(sidecar?.ready, true);
      const live = await startConsumer(t, topic);
      await waitForLines(live, name, 40);

      const before = report(live, name).max;
      const d = await deletePodObserved(ns, pod, ['app', 'logagent'], (r.graceSeconds + 30) * 1000);
      await waitForFinal(live, name);
      const final = assertEveryLineOnce(live, name);
      assert.ok(final - before >= 10, `the app wrote lines while it drained (seq ${before} at the delete, final ${final})`);

      // Within the grace period: both exited on their own (0), not killed (137).
      for (const c of ['app', 'logagent']) {
        assert.equal(d.terminated.get(c)?.exitCode, 0, `${c} exited 0: ${JSON.stringify(d.terminated.get(c))}`);
      }
      assert.ok(
        d.goneAt - d.deletedAt < r.graceSeconds * 1000,
        `the pod was gone in ${d.goneAt - d.deletedAt} ms (grace ${r.graceSeconds} s)`,
      );
      const stopped = d.agentLog.find((l) => l.msg === 'logagent stopped');
      assert.ok(stopped, `LogAgent logged 'logagent stopped':\n${JSON.stringify(d.agentLog.slice(-5))}`);
      assert.equal(stopped.clean, true, 'every line acknowledged before the deadline');
      assert.equal(stopped.unacknowledgedLines, 0);

      // Order. The app's exit to the millisecond from /proc where the node's
      // processes are visible, else the pod status's whole second (its floor
      // is still at or before the real exit).
      const signalled = d.agentLog.find((l) => l.msg === 'shutting down: waiting for files to go quiet');
      assert.ok(signalled, 'LogAgent logged its SIGTERM');
      const appFinished = d.terminated.get('app')?.finishedAt;
      const appExit = d.exitedAt.get('app') ?? (appFinished ? Date.parse(appFinished) : undefined);
      assert.ok(appExit !== undefined, 'the app exit time is known');
      if (sc.localNode) assert.ok(d.exitedAt.get('app') !== undefined && d.exitedAt.get('logagent') !== undefined, 'exits seen in /proc');
      const signalledAt = logTime(signalled);
      if (mode === 'native') {
        // The kubelet stops a native sidecar only once every app container
        // has exited: the app's last line is on disk before LogAgent stops.
        assert.ok(signalledAt >= appExit, `LogAgent got SIGTERM ${signalledAt - appExit} ms after the app exited`);
        const agentExit = d.exitedAt.get('logagent') ?? Date.parse(String(d.terminated.get('logagent')?.finishedAt));
        assert.ok(agentExit >= appExit, 'LogAgent exited after the app');
        assert.ok(
          Date.parse(String(d.terminated.get('logagent')?.finishedAt)) >= Date.parse(String(appFinished)),
          'the pod status agrees: LogAgent finished after the app',
        );
      } else {
        // Classic: every container is signalled at once, so LogAgent kept
        // reading through the app's 2-3 s drain (quietMs) and still got all.
        // (Half a second of margin: the status's whole seconds, where /proc is not visible.)
        assert.ok(signalledAt + 500 < appExit, `LogAgent got SIGTERM ${appExit - signalledAt} ms before the app exited`);
      }
      const f = figures(d);
      t.diagnostic(
        `${mode}: delete -> app exit ${f.appExit ?? '?'} ms (2-3 s drain), app exit -> LogAgent SIGTERM ${signalledAt - appExit} ms, ` +
          `app exit -> LogAgent exit ${f.agentExit ?? '?'} ms, delete -> pod gone ${f.total} ms (grace ${r.graceSeconds} s); ` +
          `LogAgent's shutdown took ${String(stopped.tookMs)} ms; ${final} lines, 0 lost, 0 repeated`,
      );
    },
  );
}

test(
  'a rolling restart of the Deployment: no line of the terminating pod is lost, the new pod ships from its first line',
  { skip, timeout: 300_000 },
  async (t) => {
    const ns = await createNamespace(t, 'e2e-rollout');
    const topic = uniqueTopic('e2e-rollout');
    const r = await install(t, ns, {
      inputs: [{ name: 'app', paths: [APP_FILE], topic }],
      intervalSeconds: 0.05,
      drainSeconds: 1,
      shutdown: { appDrainSeconds: 3, deadlineMs: 10_000, marginSeconds: 2 },
    });
    const old = String((await readyPod(r)).metadata.name);
    const live = await startConsumer(t, topic);
    await waitForLines(live, old, 30);

    const startedAt = Date.now();
    await kubectl(['rollout', 'restart', `deployment/${r.deployment}`], { namespace: ns });
    const status = await kubectl(['rollout', 'status', `deployment/${r.deployment}`, '--timeout=120s'], {
      namespace: ns,
      timeoutMs: 130_000,
      allowFailure: true,
    });
    assert.equal(status.code, 0, `rollout status: ${status.stdout}${status.stderr}\n${await describePods(ns)}`);
    const tookMs = Date.now() - startedAt;
    const fresh = String((await readyPod(r)).metadata.name);
    assert.notEqual(fresh, old, 'a new pod replaced the old one');
    await waitForFinal(live, old);
    const final = assertEveryLineOnce(live, old);
    await waitForLines(live, fresh, 30);
    const next = report(live, fresh);
    assert.deepEqual(next.repeated, [], 'no line of the new pod twice');
    t.diagnostic(
      `rollout restart until complete: ${seconds(tookMs)}; old pod: ${final} lines exactly once; new pod shipping (${next.max} so far)`,
    );
  },
);

for (const path of ['volume', 'api'] as const) {
  test(
    `a ConfigMap edit (an input added, a topic changed) is applied by the ${path === 'volume' ? 'volume watch when the kubelet swaps ..data' : 'API watch'}: nothing lost or repeated`,
    { skip, timeout: 300_000 },
    async (t) => {
      const ns = await createNamespace(t, `e2e-cm-${path}`);
      const [before, after, extraTopic] = [
        uniqueTopic(`e2e-cm-${path}-a`),
        uniqueTopic(`e2e-cm-${path}-b`),
        uniqueTopic(`e2e-cm-${path}-x`),
      ];
      const r = await install(t, ns, {
        apiWatch: path === 'api',
        inputs: [{ name: 'app', paths: [APP_FILE], topic: before }],
        intervalSeconds: 0.1,
      });
      const pod = await readyPod(r);
      const name = String(pod.metadata.name);
      if (path === 'api') {
        await waitForLog(ns, name, (l) => l.msg === 'watching the configuration through the Kubernetes API', 'the API watch');
        const watch = await waitFor(
          async () => {
            const status = JSON.parse((await agentHttp(r, name, '/status')).body);
            return status.config?.reload?.configMap?.watching === true ? status : undefined;
          },
          { what: 'the API watch to be established' },
        );
        assert.equal(watch.config.reload.source, `configmap/${ns}/${r.configMap}`);
      }
      const first = await startConsumer(t, before);
      await waitForLines(first, name, 20);
      // The file of the input to add: written from the app container (the
      // log volume is the app's; its root filesystem is read-only).
      const extra = (from: number, to: number) =>
        podExec(ns, name, 'app', [
          'sh',
          '-c',
          `i=${from}; while [ $i -lt ${to} ]; do echo "extra-$i" >> /var/log/app/extra.log; i=$((i + 1)); done`,
        ]);
      await extra(0, 50);

      const next = agentConfig(sc.podBrokers, [
        { name: 'app', paths: [APP_FILE], topic: after },
        { name: 'extra', paths: ['/var/log/app/extra.log'], topic: extraTopic },
      ]);
      const edit = await editConfig(r, stringify(next));
      const applied = await waitForLog(
        ns,
        name,
        (l) => l.msg === 'configuration applied',
        `'configuration applied' after the ${path} edit`,
        90_000,
      );
      const latency = logTime(applied) - edit.sentAt;
      assert.match(
        String(applied.origin),
        path === 'api' ? new RegExp(`^configmap/${ns}/${r.configMap}$`) : /^\/etc\/logagent\//,
        'applied from the expected source',
      );
      assert.deepEqual(
        (applied.inputs as { name: string; topic: string }[]).map((i) => [i.name, i.topic]),
        [
          ['app', after],
          ['extra', extraTopic],
        ],
      );
      await extra(50, 100);
      const second = await startConsumer(t, after);
      const x = await startConsumer(t, extraTopic);
      await x.waitUntil((m) => m.length >= 100, 60_000, '100 lines of the added input');
      await second.waitUntil((m) => appLines(m.map(asText)).length >= 20, 60_000, '20 app lines on the new topic');

      // The pod goes; then every app line is on exactly one of the two topics, cut once.
      const d = await deletePodObserved(ns, await readyPod(r), ['app', 'logagent'], (r.graceSeconds + 30) * 1000);
      assert.equal(d.terminated.get('logagent')?.exitCode, 0);
      await waitForFinal(second, name);
      const a = appLines(first.messages.map(asText)).filter((l) => l.pod === name);
      const b = appLines(second.messages.map(asText)).filter((l) => l.pod === name);
      const all = seqReport([...a, ...b], name);
      assert.ok(all.final !== undefined, 'the final line arrived');
      assert.deepEqual(all.missing, [], 'no app line lost across the topic change');
      assert.deepEqual(all.repeated, [], 'no app line on both topics or twice on one');
      const lastOld = Math.max(...a.map((l) => l.seq));
      const firstNew = Math.min(...b.map((l) => l.seq));
      assert.equal(firstNew, lastOld + 1, 'one cut at a line boundary: the old topic up to a line, the new from the next');
      const extraValues = x.messages.map((m) => asText(m).value);
      assert.deepEqual(
        extraValues,
        Array.from({ length: 100 }, (_, i) => `extra-${i}`),
        'the added input: every line once, in order',
      );
      t.diagnostic(
        `ConfigMap edit -> 'configuration applied' in the pod (${path}): ${latency} ms (the PUT itself ${edit.doneAt - edit.sentAt} ms); ` +
          `app lines ${all.final}, cut after seq ${lastOld}`,
      );
    },
  );
}

test(
  "a bad ConfigMap edit is rejected: the pod keeps running and shipping, and the error is in LogAgent's log",
  { skip, timeout: 300_000 },
  async (t) => {
    const ns = await createNamespace(t, 'e2e-bad');
    const topic = uniqueTopic('e2e-bad');
    const r = await install(t, ns, { inputs: [{ name: 'app', paths: [APP_FILE], topic }], intervalSeconds: 0.1 });
    const pod = await readyPod(r);
    const name = String(pod.metadata.name);
    const live = await startConsumer(t, topic);
    await waitForLines(live, name, 20);

    const bad = {
      ...r.config,
      inputs: [{ name: 'app', paths: [APP_FILE], topic, startAt: 'sometimes' }],
      kafka: { ...r.config.kafka, acks: 'most' },
    };
    const edit = await editConfig(r, stringify(bad));
    const rejected = await waitForLog(
      ns,
      name,
      (l) => l.msg === 'configuration rejected; the running configuration stays',
      'the rejection in the log',
      90_000,
    );
    t.diagnostic(`bad edit rejected ${logTime(rejected) - edit.sentAt} ms after the edit: ${JSON.stringify(rejected.problems)}`);
    const problems = (rejected.problems as string[]).join('\n');
    assert.match(problems, /startAt/, 'names the bad input key');
    assert.match(problems, /acks/, 'names the bad kafka key');
    assert.equal((await containerLog(ns, name)).filter((l) => l.msg === 'configuration applied').length, 0, 'nothing applied');

    // Still shipping on the running configuration, 20 more lines and counting.
    const at = report(live, name).max;
    await waitForLines(live, name, at + 20);
    const now = await readyPod(r);
    assert.equal(now.metadata.name, name, 'the same pod');
    for (const c of ['app', 'logagent']) assert.equal(containerStatus(now, c)?.restartCount, 0, `${c} never restarted`);
    assert.equal(containerStatus(now, 'logagent')?.ready, true);

    await deletePodObserved(ns, now, ['app', 'logagent'], (r.graceSeconds + 30) * 1000);
    await waitForFinal(live, name);
    assertEveryLineOnce(live, name);
  },
);

test(
  "the chart's securityContext holds in the real pod (uid 10001, non-root, read-only root, no capabilities) and the probes pass",
  { skip, timeout: 300_000 },
  async (t) => {
    const ns = await createNamespace(t, 'e2e-sec');
    const topic = uniqueTopic('e2e-sec');
    const r = await install(t, ns, { inputs: [{ name: 'app', paths: [APP_FILE], topic }] });
    const pod = await readyPod(r);
    const name = String(pod.metadata.name);
    const spec = specContainer(pod, 'logagent');
    assert.deepEqual(
      {
        runAsUser: spec.securityContext.runAsUser,
        runAsGroup: spec.securityContext.runAsGroup,
        runAsNonRoot: spec.securityContext.runAsNonRoot,
        readOnlyRootFilesystem: spec.securityContext.readOnlyRootFilesystem,
        allowPrivilegeEscalation: spec.securityContext.allowPrivilegeEscalation,
        drop: spec.securityContext.capabilities.drop,
      },
      {
        runAsUser: AGENT_ID,
        runAsGroup: AGENT_ID,
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        drop: ['ALL'],
      },
    );
    const status = containerStatus(pod, 'logagent');
    assert.equal(status.started, true, 'the startup probe (/readyz) passed');
    assert.equal(status.ready, true, 'the readiness probe (/readyz) passes');
    assert.equal(status.restartCount, 0, 'the liveness probe (/healthz) never failed it');
    for (const path of ['/healthz', '/readyz']) {
      const res = await agentHttp(r, name, path);
      assert.equal(res.status, 200, `${path} answers 200 in the pod: ${res.body}`);
    }

    // What the kernel applies, from inside: writes fail on the root, work on the checkpoint volume.
    const inside = JSON.parse(
      await podExec(ns, name, 'logagent', [
        'node',
        '-e',
        `const fs = require('node:fs');
         let root = 'written'; try { fs.writeFileSync('/probe', 'x'); } catch (e) { root = e.code; }
         const st = fs.statSync('/var/lib/logagent/checkpoints.json');
         console.log(JSON.stringify({ root, uid: process.getuid(), gid: process.getgid(), checkpointOwner: [st.uid, st.gid] }));`,
      ]),
    );
    assert.deepEqual(inside, { root: 'EROFS', uid: AGENT_ID, gid: AGENT_ID, checkpointOwner: [AGENT_ID, AGENT_ID] });

    // And from the host, as image.test.ts checks the docker container. On
    // the local node this machine runs the pod; elsewhere (kind on the same
    // machine) what /proc lets this user read.
    const pid = hostPidOf(String(status.containerID));
    if (pid === undefined) {
      assert.ok(!sc.localNode, 'the LogAgent process is visible in /proc on the local node');
      t.diagnostic('the node processes are not visible here: /proc checks skipped');
      return;
    }
    const st = procStatus(pid);
    assert.deepEqual(st.Uid?.split(/\s+/).map(Number), [AGENT_ID, AGENT_ID, AGENT_ID, AGENT_ID]);
    assert.deepEqual(st.Gid?.split(/\s+/).map(Number), [AGENT_ID, AGENT_ID, AGENT_ID, AGENT_ID]);
    assert.equal(st.CapEff, '0000000000000000', 'no capabilities');
    assert.equal(st.NoNewPrivs, '1', 'allowPrivilegeEscalation: false');
    assert.equal(st.Seccomp, '2', 'seccomp RuntimeDefault (filter mode)');
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    assert.deepEqual(argv.slice(-2), ['/app/cli.js', 'run'], 'the image entrypoint runs as the container PID 1');
    let mountinfo: string;
    try {
      mountinfo = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
    } catch (err) {
      if (sc.localNode) throw err;
      t.diagnostic(
        `/proc/${pid}/mountinfo is not readable here (${(err as Error).message}): the read-only root is checked from inside only`,
      );
      return;
    }
    const rootMount = mountinfo
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[4] === '/');
    assert.ok(rootMount, 'the container has a root mount');
    assert.match(String(rootMount[5]), /(^|,)ro(,|$)/, `the root filesystem is mounted read-only: ${rootMount.join(' ')}`);
  },
);

test(
  'a Kafka outage does not make the pod unready: probes keep passing for 20 s while LogAgent logs delivery failures, and the lines arrive when the broker is back',
  {
    skip:
      skip || (sc.hostNetwork ? false : 'pods are not on the node network: they cannot reach a broker this test stops on the host (kind)'),
    timeout: 400_000,
  },
  async (t) => {
    // A broker of its own: this test stops it.
    const kafka = await ownCluster(t, { KAFKA_LOCAL_PORT: '19092' }, 1);
    const ns = await createNamespace(t, 'e2e-outage');
    const topic = uniqueTopic('e2e-outage');
    const r = await install(t, ns, {
      podBrokers: kafka.bootstrap,
      inputs: [{ name: 'app', paths: [APP_FILE], topic }],
      intervalSeconds: 0.1,
      // Strict probes: one failed readiness probe makes the pod unready, three
      // failed liveness probes (6 s) restart LogAgent.
      probes: {
        readiness: { enabled: true, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 1 },
        liveness: { enabled: true, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 3 },
      },
    });
    const pod = await readyPod(r);
    const name = String(pod.metadata.name);
    // Consumers of this broker stop before it does (t.after hooks run in
    // the order they were added, ownCluster's first): a kafkajs consumer
    // left on a stopped broker keeps the process alive.
    const consumers: LiveConsumer[] = [];
    try {
      const live = await startConsumer(undefined, topic, { bootstrap: kafka.bootstrap });
      consumers.push(live);
      await waitForLines(live, name, 20);
      await live.stop();

      const stoppingAt = Date.now();
      await kafkaLocal(['stop-node', '0'], kafka.env);
      const downAt = Date.now();
      const failed = await waitForLog(
        ns,
        name,
        (l) => String(l.msg).startsWith('kafka delivery failed') && logTime(l) >= stoppingAt,
        'a delivery failure in the log once the broker stopped',
        30_000,
      );
      let checks = 0;
      while (Date.now() - downAt < 20_000) {
        const now = await kubectlJson(['get', 'pod', name], { namespace: ns });
        const cond = (now.status.conditions ?? []).find((c: any) => c.type === 'Ready');
        const agent = containerStatus(now, 'logagent');
        assert.equal(cond?.status, 'True', `the pod stays Ready ${Date.now() - downAt} ms into the outage`);
        assert.equal(agent.ready, true);
        assert.equal(agent.restartCount, 0, 'the liveness probe did not restart LogAgent');
        checks++;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const status = JSON.parse((await agentHttp(r, name, '/status')).body);
      assert.equal(status.kafka.failing, true, `/status says Kafka deliveries fail: ${JSON.stringify(status.kafka)}`);
      const pendingAtEnd = Number(status.kafka.pendingLines);
      await kafkaLocal(['start-node', '0'], kafka.env);
      const upAt = Date.now();

      const back = await startConsumer(undefined, topic, { bootstrap: kafka.bootstrap });
      consumers.push(back);
      // Every line the app wrote until the broker was back arrives.
      const last = (await podExec(ns, name, 'app', ['tail', '-n', '1', APP_FILE])).trim();
      const written = Number(/ seq=(\d+)/.exec(last)?.[1]);
      assert.ok(written > 20 + (upAt - downAt) / 200, `the app kept writing through the outage: ${last}`);
      await waitForLines(back, name, written, 120_000);
      const caughtUp = Date.now() - upAt;
      await deletePodObserved(ns, await readyPod(r), ['app', 'logagent'], (r.graceSeconds + 30) * 1000);
      await waitForFinal(back, name);
      const rep = report(back, name);
      assert.ok(rep.final !== undefined, 'the final line arrived');
      assert.deepEqual(rep.missing, [], 'no line lost through the outage');
      t.diagnostic(
        `outage ${seconds(upAt - downAt)} (${pendingAtEnd} lines pending at its end): first delivery failure logged ` +
          `${logTime(failed) - stoppingAt} ms after stop-node began; pod Ready at all ${checks} checks; caught up ${seconds(caughtUp)} ` +
          `after the broker was back; ${rep.final} lines, 0 lost, ${rep.repeated.length} repeated (at least once across a broker stop)`,
      );
    } finally {
      for (const c of consumers) await c.stop();
    }
  },
);

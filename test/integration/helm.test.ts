// The Helm chart (helm/logagent) against the real helm binary: `helm lint
// --strict` and `helm template` over every values file in helm/logagent/ci
// (and the kind run's), with assertions on the rendered objects; the values
// schema rejecting typos; the chart used as a dependency by the example
// parent chart (helm/examples/web-app); the copy-paste snippet in
// docs/helm.md. The same file runs against kind (scripts/kind-e2e.sh).
// Skipped, with the reason, when LOGAGENT_TEST_HELM is unset.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml, parseDocument, isMap, isPair, isScalar } from 'yaml';
import {
  CHART,
  CI_VALUES,
  KIND_VALUES,
  PARENT_CHART,
  ROOT,
  envValue,
  findContainer,
  helm,
  helmSkip,
  objectsOf,
  only,
  parentChartCopy,
  podSpec,
  render,
  renderError,
  renderedConfig,
  walk,
  type K8sObject,
} from './helm-helpers.ts';

const skip = helmSkip();

function ciValues(name: string): string {
  const file = CI_VALUES.get(name);
  if (file === undefined) throw new Error(`helm/logagent/ci/${name}-values.yaml is missing`);
  return file;
}

const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
const chartYaml = parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'));

/** Values files whose rendering has a pod (the example workload), with the mode each one runs. */
const POD_VARIANTS: { name: string; file: string; mode: 'native' | 'classic'; api: boolean }[] = [
  { name: 'native', file: ciValues('native'), mode: 'native', api: false },
  { name: 'classic', file: ciValues('classic'), mode: 'classic', api: false },
  { name: 'api-watch', file: ciValues('api-watch'), mode: 'native', api: true },
  { name: 'secrets', file: ciValues('secrets'), mode: 'native', api: false },
  { name: 'kind', file: KIND_VALUES, mode: 'native', api: true },
];

/** The example Deployment, its pod spec and LogAgent's container in it. */
async function example(valuesFile: string, set: string[] = []) {
  const objects = await render({ values: [valuesFile], set });
  const deployment = only(objects, 'Deployment');
  const spec = podSpec(deployment);
  return { objects, deployment, spec, logagent: findContainer(spec, 'logagent'), app: findContainer(spec, 'app').container };
}

describe('helm lint', { skip }, () => {
  for (const [name, file] of [...CI_VALUES, ['kind', KIND_VALUES] as const]) {
    for (const kubeVersion of ['1.29.0', '1.34.0']) {
      test(`helm lint --strict passes with ${name} values on Kubernetes ${kubeVersion}`, async () => {
        const r = await helm(['lint', '--strict', CHART, '--values', file, '--kube-version', kubeVersion]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      });
    }
  }

  test('helm lint --strict passes for the example parent chart', async (t) => {
    const parent = await parentChartCopy(t);
    const r = await helm(['lint', '--strict', parent, '--kube-version', '1.34.0']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
});

describe('kubeVersion', { skip }, () => {
  test('the chart needs Kubernetes 1.29 (native sidecars on by default) and accepts provider version suffixes', async () => {
    assert.equal(chartYaml.kubeVersion, '>=1.29.0-0');
    assert.match(
      await renderError({ kubeVersion: '1.28.15' }),
      /chart requires kubeVersion: >=1\.29\.0-0 which is incompatible with Kubernetes v1\.28\.15/,
    );
    await render({ kubeVersion: '1.29.0' });
    await render({ kubeVersion: 'v1.31.2-eks-a1b2c3' });
  });
});

describe('rendered objects', { skip }, () => {
  test('the defaults render the ConfigMap only: no workload, no RBAC', async () => {
    const objects = await render({ values: [ciValues('default')] });
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`),
      ['ConfigMap/ci-logagent'],
    );
    const cm = only(objects, 'ConfigMap');
    assert.equal(cm.metadata.namespace, 'apps');
    assert.equal(cm.metadata.labels['app.kubernetes.io/name'], 'logagent');
    assert.equal(cm.metadata.labels['app.kubernetes.io/instance'], 'ci');
    assert.equal(cm.metadata.labels['app.kubernetes.io/version'], chartYaml.appVersion);
    assert.equal(cm.metadata.labels['app.kubernetes.io/managed-by'], 'Helm');
    assert.equal(cm.metadata.labels['helm.sh/chart'], `logagent-${chartYaml.version}`);
    assert.deepEqual(renderedConfig(objects), {
      kafka: { brokers: ['kafka:9092'], acks: 'all', compression: 'none' },
      inputs: [{ name: 'app', paths: ['/var/log/app/*.log'], exclude: [], topic: 'app_log', startAt: 'beginning' }],
      shutdown: { quietMs: 1000 },
      logLevel: 'info',
    });
  });

  for (const v of POD_VARIANTS) {
    describe(`${v.name} values`, () => {
      test('nothing is mounted with subPath; the ConfigMap is a directory at /etc/logagent named by LOGAGENT_CONFIG', async () => {
        const { objects, spec, logagent } = await example(v.file);
        walk(objects, (key, _value, path) => assert.notEqual(key, 'subPath', `subPath at ${path}`));
        const c = logagent.container;
        assert.equal(envValue(c, 'LOGAGENT_CONFIG'), '/etc/logagent');
        const mount = c.volumeMounts.find((m: any) => m.mountPath === '/etc/logagent');
        assert.ok(mount, 'a mount at /etc/logagent');
        assert.equal(mount.readOnly, true);
        assert.equal(mount.subPath, undefined);
        const volume = spec.volumes.find((vol: any) => vol.name === mount.name);
        assert.deepEqual(volume, { name: mount.name, configMap: { name: only(objects, 'ConfigMap').metadata.name } });
      });

      test('the LogAgent container runs locked down: non-root 10001, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp', async () => {
        const { spec, logagent } = await example(v.file);
        assert.deepEqual(logagent.container.securityContext, {
          runAsNonRoot: true,
          runAsUser: 10001,
          runAsGroup: 10001,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        assert.equal(spec.securityContext.fsGroup, 10001, 'the pod fsGroup makes the log volume and secret files readable');
        assert.deepEqual(logagent.container.resources, { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '256Mi' } });
      });

      test('it writes only to the checkpoint volume; the log volume is read-only for LogAgent and writable for the app', async () => {
        const { spec, logagent, app } = await example(v.file);
        const c = logagent.container;
        assert.equal(envValue(c, 'LOGAGENT_CHECKPOINT_DIR'), '/var/lib/logagent');
        const writable = c.volumeMounts.filter((m: any) => m.readOnly !== true);
        assert.deepEqual(
          writable.map((m: any) => m.mountPath),
          ['/var/lib/logagent'],
        );
        const logs = c.volumeMounts.find((m: any) => m.mountPath === '/var/log/app');
        assert.equal(logs.readOnly, true);
        const appMount = app.volumeMounts.find((m: any) => m.name === logs.name);
        assert.ok(appMount, 'the app mounts the same log volume');
        assert.notEqual(appMount.readOnly, true);
        assert.ok(
          spec.volumes.some((vol: any) => vol.name === logs.name),
          'the pod defines the log volume',
        );
      });

      test('probes: startup and readiness on /readyz, liveness on /healthz, on the HTTP port only (never Kafka)', async () => {
        const { logagent } = await example(v.file);
        const c = logagent.container;
        const port = Number(envValue(c, 'LOGAGENT_HTTP_PORT'));
        assert.equal(port, 9464);
        assert.deepEqual(c.ports, [{ name: 'logagent-http', containerPort: port, protocol: 'TCP' }]);
        assert.deepEqual(c.startupProbe.httpGet, { path: '/readyz', port });
        assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port });
        assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port });
        for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
          assert.deepEqual(Object.keys(probe).sort(), ['failureThreshold', 'httpGet', 'periodSeconds', 'timeoutSeconds']);
        }
      });

      test('Downward API env: POD_NAME, POD_NAMESPACE, NODE_NAME, POD_UID', async () => {
        const { logagent } = await example(v.file);
        const fieldRefs = Object.fromEntries(
          logagent.container.env.filter((e: any) => e.valueFrom?.fieldRef).map((e: any) => [e.name, e.valueFrom.fieldRef.fieldPath]),
        );
        assert.deepEqual(fieldRefs, {
          POD_NAME: 'metadata.name',
          POD_NAMESPACE: 'metadata.namespace',
          NODE_NAME: 'spec.nodeName',
          POD_UID: 'metadata.uid',
        });
      });

      test(`${v.mode} mode: ${v.mode === 'native' ? 'an init container with restartPolicy Always' : 'a second regular container'}`, async () => {
        const { spec, logagent } = await example(v.file);
        if (v.mode === 'native') {
          assert.equal(logagent.list, 'initContainers');
          assert.equal(logagent.container.restartPolicy, 'Always');
          assert.deepEqual(
            spec.initContainers.map((c: any) => c.name),
            ['logagent'],
          );
          assert.deepEqual(
            spec.containers.map((c: any) => c.name),
            ['app'],
          );
        } else {
          assert.equal(logagent.list, 'containers');
          assert.equal(logagent.container.restartPolicy, undefined);
          assert.equal(spec.initContainers, undefined);
          assert.deepEqual(
            spec.containers.map((c: any) => c.name),
            ['app', 'logagent'],
          );
        }
      });

      test('the grace period covers the app drain plus the LogAgent deadline; the deadline reaches LogAgent by env', async () => {
        const { spec, logagent } = await example(v.file);
        const s = parseYaml(readFileSync(v.file, 'utf8')).shutdown ?? {};
        const deadlineMs = s.deadlineMs ?? values.shutdown.deadlineMs;
        const expected =
          (s.appDrainSeconds ?? values.shutdown.appDrainSeconds) +
          Math.ceil(deadlineMs / 1000) +
          (s.marginSeconds ?? values.shutdown.marginSeconds);
        assert.equal(spec.terminationGracePeriodSeconds, expected);
        assert.equal(envValue(logagent.container, 'LOGAGENT_SHUTDOWN_DEADLINE_MS'), String(deadlineMs));
      });

      test(
        v.api
          ? 'API watch: the pod runs as the ServiceAccount the Role is bound to'
          : 'no API watch: no RBAC objects and no token in the pod',
        async () => {
          const { objects, spec, logagent } = await example(v.file);
          const cm = only(objects, 'ConfigMap').metadata.name;
          if (v.api) {
            assert.equal(envValue(logagent.container, 'LOGAGENT_KUBERNETES_CONFIGMAP'), cm);
            const sa = only(objects, 'ServiceAccount').metadata.name;
            assert.equal(spec.serviceAccountName, sa);
            assert.notEqual(spec.automountServiceAccountToken, false);
            assert.deepEqual(only(objects, 'RoleBinding').subjects, [{ kind: 'ServiceAccount', name: sa, namespace: 'apps' }]);
          } else {
            assert.equal(envValue(logagent.container, 'LOGAGENT_KUBERNETES_CONFIGMAP'), undefined);
            for (const kind of ['ServiceAccount', 'Role', 'RoleBinding']) assert.deepEqual(objectsOf(objects, kind), [], kind);
            assert.equal(spec.serviceAccountName, undefined);
            assert.equal(spec.automountServiceAccountToken, false);
          }
        },
      );
    });
  }

  test('API watch: the Role grants get, list and watch on exactly the ConfigMap, and is bound to the ServiceAccount', async () => {
    const objects = await render({ values: [ciValues('api-watch')] });
    const cm = only(objects, 'ConfigMap').metadata.name;
    const role = only(objects, 'Role');
    assert.deepEqual(role.rules, [{ apiGroups: [''], resources: ['configmaps'], resourceNames: [cm], verbs: ['get', 'list', 'watch'] }]);
    const binding = only(objects, 'RoleBinding');
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    const sa = only(objects, 'ServiceAccount');
    assert.deepEqual(sa.metadata.annotations, { 'example.com/owner': 'logs-team' });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'apps' }]);
  });

  test('API watch for an existing ServiceAccount binds the Role to it and creates none', async () => {
    const objects = await render({ values: [ciValues('config-only')] });
    assert.deepEqual(objects.map((o) => o.kind).sort(), ['ConfigMap', 'Role', 'RoleBinding']);
    assert.deepEqual(only(objects, 'RoleBinding').subjects, [{ kind: 'ServiceAccount', name: 'web', namespace: 'apps' }]);
    assert.deepEqual(only(objects, 'Role').rules[0].resourceNames, [only(objects, 'ConfigMap').metadata.name]);
    assert.match(
      await renderError({ set: ['configWatch.api.enabled=true', 'configWatch.api.serviceAccount.create=false'] }),
      /configWatch\.api\.serviceAccount\.name: the existing ServiceAccount/,
    );
  });

  test('Kafka credentials: the existing Secret is mounted read-only at /etc/logagent-secrets, env points at its files', async () => {
    const { spec, logagent } = await example(ciValues('secrets'));
    const c = logagent.container;
    const mount = c.volumeMounts.find((m: any) => m.mountPath === '/etc/logagent-secrets');
    assert.equal(mount.readOnly, true);
    assert.deepEqual(
      spec.volumes.find((vol: any) => vol.name === mount.name),
      { name: mount.name, secret: { secretName: 'kafka-credentials', defaultMode: 0o440 } },
    );
    assert.equal(envValue(c, 'KAFKA_SASL_PASSWORD_FILE'), '/etc/logagent-secrets/password');
    assert.deepEqual(renderedConfig(await render({ values: [ciValues('secrets')] })).kafka.tls, {
      enabled: true,
      caFile: '/etc/logagent-secrets/ca.crt',
    });
    assert.deepEqual(
      spec.volumes.find((vol: any) => vol.name === 'logagent-checkpoints'),
      { name: 'logagent-checkpoints', persistentVolumeClaim: { claimName: 'logagent-checkpoints' } },
    );
    const { logagent: without } = await example(ciValues('native'));
    assert.equal(
      without.container.volumeMounts.some((m: any) => m.mountPath === '/etc/logagent-secrets'),
      false,
    );
  });

  test('config.yaml: every key as given, numbers as integers, acks as a string, brokers as given', async () => {
    const objects = await render({ values: [ciValues('native')] });
    const config = renderedConfig(objects);
    const given = parseYaml(readFileSync(ciValues('native'), 'utf8')).config;
    assert.deepEqual(config, { ...given, kafka: { ...given.kafka, acks: '1' } });
    assert.equal(config.inflightMaxBytes, 4194304);
    assert.equal(config.rotated.maxHoldBytes, 1073741824);
    assert.equal(only(objects, 'ConfigMap').data['config.yaml'].includes('e+'), false, 'no number in exponent notation');
  });

  test('the example app writes numbered lines and a final one on SIGTERM to the file LogAgent tails', async () => {
    const { app } = await example(ciValues('native'));
    const script = app.command[2] as string;
    assert.match(script, /trap 'stop=1' TERM/);
    assert.match(script, /seq=\$i final/);
    assert.equal(envValue(app, 'LOG_FILE'), '/var/log/app/app.log');
    assert.equal(envValue(app, 'INTERVAL_SECONDS'), '0.2');
    assert.deepEqual(app.securityContext.capabilities, { drop: ['ALL'] });
  });

  test('the example app drains for example.drainSeconds after SIGTERM; on the node network it rolls out old pod first', async () => {
    const { app, deployment } = await example(ciValues('native'));
    assert.equal(envValue(app, 'DRAIN_SECONDS'), '0');
    assert.match(app.command[2] as string, /while \[ "\$\(date \+%s\)" -lt "\$end" \]/);
    assert.equal(deployment.spec.strategy, undefined, 'the default rollout on the pod network');
    const onNode = await example(ciValues('native'), ['example.drainSeconds=3', 'example.hostNetwork=true']);
    assert.equal(envValue(onNode.app, 'DRAIN_SECONDS'), '3');
    assert.equal(onNode.spec.hostNetwork, true);
    // The pod holds httpPort on the node: a new pod beside the old one could never be scheduled there.
    assert.deepEqual(onNode.deployment.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } });
  });

  test('a user volume source replaces the default emptyDir instead of being merged into it', async () => {
    const { spec } = await example(ciValues('native'), ['logs.volume.persistentVolumeClaim.claimName=app-logs']);
    assert.deepEqual(
      spec.volumes.find((vol: any) => vol.name === 'logs'),
      { name: 'logs', persistentVolumeClaim: { claimName: 'app-logs' } },
    );
    const noLogs = await render({ set: ['logs.volume=null'] });
    assert.equal(objectsOf(noLogs, 'Deployment').length, 0);
    assert.match(await renderError({ set: ['example.enabled=true', 'logs.volume=null'] }), /example\.enabled needs logs\.volume/);
  });
});

describe('values.schema.json', { skip }, () => {
  // Each typo next to its correct spelling, so that a failure is the typo's.
  const cases: { what: string; bad: string[]; good: string[]; error: RegExp }[] = [
    { what: 'a top-level key', bad: ['modee=classic'], good: ['mode=classic'], error: /additional properties 'modee' not allowed/ },
    {
      what: 'a Kafka key',
      bad: ['config.kafka.acsk=1'],
      good: ['config.kafka.acks=1'],
      error: /at '\/config\/kafka': additional properties 'acsk' not allowed/,
    },
    {
      what: 'a key of an input',
      // --set replaces the whole list: the input needs its required keys too.
      bad: ['config.inputs[0].name=app', 'config.inputs[0].paths[0]=/x/*.log', 'config.inputs[0].topic=t', 'config.inputs[0].startat=end'],
      good: ['config.inputs[0].name=app', 'config.inputs[0].paths[0]=/x/*.log', 'config.inputs[0].topic=t', 'config.inputs[0].startAt=end'],
      error: /at '\/config\/inputs\/0': additional properties 'startat' not allowed/,
    },
    {
      what: 'an example key',
      bad: ['example.enable=true'],
      good: ['example.enabled=true'],
      error: /additional properties 'enable' not allowed/,
    },
    {
      what: 'a securityContext key',
      bad: ['securityContext.runAsUSer=0'],
      good: ['securityContext.runAsUser=10001'],
      error: /additional properties 'runAsUSer' not allowed/,
    },
    {
      what: 'a probe key',
      bad: ['probes.liveness.periodSecond=5'],
      good: ['probes.liveness.periodSeconds=5'],
      error: /additional properties 'periodSecond' not allowed/,
    },
    {
      what: 'an API watch key',
      bad: ['configWatch.api.enable=true'],
      good: ['configWatch.api.enabled=true'],
      error: /additional properties 'enable' not allowed/,
    },
    { what: 'a mode', bad: ['mode=sidecar'], good: ['mode=native'], error: /at '\/mode': value must be one of 'native', 'classic'/ },
    {
      what: 'a broker without port',
      bad: ['config.kafka.brokers[0]=kafka'],
      good: ['config.kafka.brokers[0]=kafka:9092'],
      error: /at '\/config\/kafka\/brokers'/,
    },
    {
      what: 'the deadline in config (it is pod spec: shutdown.deadlineMs)',
      bad: ['config.shutdown.deadlineMs=9000'],
      good: ['shutdown.deadlineMs=9000'],
      error: /at '\/config\/shutdown': additional properties 'deadlineMs' not allowed/,
    },
    {
      what: 'a Kafka password in config.yaml (a ConfigMap): only its file',
      bad: ['config.kafka.sasl.password=hunter2'],
      good: ['config.kafka.sasl.passwordFile=/etc/logagent-secrets/password'],
      error: /at '\/config\/kafka\/sasl': additional properties 'password' not allowed/,
    },
    {
      what: 'two volume sources for the checkpoints',
      bad: ['checkpoint.volume.emptyDir.medium=Memory', 'checkpoint.volume.hostPath.path=/x'],
      good: ['checkpoint.volume.emptyDir.medium=Memory'],
      error: /at '\/checkpoint\/volume': maxProperties/,
    },
  ];
  for (const c of cases) {
    test(`rejects ${c.what}`, async () => {
      assert.match(await renderError({ set: c.bad }), c.error);
      await render({ set: c.good });
    });
  }

  test('accepts the keys Helm adds when the chart is a dependency (global, enabled)', async () => {
    await render({ set: ['global.imageRegistry=registry.example', 'enabled=true'] });
  });

  test('refuses two inputs with the same name', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'logagent-values-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'values.yaml');
    const input = (topic: string) => ({ name: 'app', paths: ['/var/log/app/*.log'], topic });
    writeFileSync(file, JSON.stringify({ config: { inputs: [input('a'), input('b')] } }));
    assert.match(await renderError({ values: [file] }), /config\.inputs: the name "app" is used twice/);
    writeFileSync(file, JSON.stringify({ config: { inputs: [input('a'), { ...input('b'), name: 'app2' }] } }));
    await render({ values: [file] });
  });
});

describe('values.yaml', () => {
  test('every value has a comment, on itself or on a key that encloses it', () => {
    const doc = parseDocument(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
    const missing: string[] = [];
    const visit = (node: unknown, path: string, covered: boolean): void => {
      if (!isMap(node)) return;
      node.items.forEach((pair, i) => {
        if (!isPair(pair) || !isScalar(pair.key)) return;
        const key = `${path}${path ? '.' : ''}${String(pair.key.value)}`;
        // The yaml parser gives a comment above a map's first key to the map.
        const commented = covered || Boolean(pair.key.commentBefore) || (i === 0 && Boolean(node.commentBefore));
        // A non-empty map is visited; anything else (a scalar, a list, {}) is a value.
        if (isMap(pair.value) && pair.value.items.length > 0) visit(pair.value, key, commented);
        else if (!commented) missing.push(key);
      });
    };
    visit(doc.contents, '', false);
    assert.deepEqual(missing, []);
    assert.ok(Object.keys(values).length > 10);
  });

  test('the default image tag is the chart appVersion', () => {
    assert.equal(values.image.tag, chartYaml.appVersion);
  });
});

describe('as a dependency of another chart (helm/examples/web-app)', { skip }, () => {
  const parentValues = parseYaml(readFileSync(join(PARENT_CHART, 'values.yaml'), 'utf8'));

  test('the included sidecar is the container the chart itself renders for the same values, and uses the ConfigMap the dependency renders', async (t) => {
    const parent = await parentChartCopy(t);
    const objects = await render({ chart: parent, release: 'shop' });
    const cm = only(objects, 'ConfigMap');
    assert.equal(cm.metadata.name, 'shop-logagent');
    assert.deepEqual(renderedConfig(objects).inputs, parentValues.logagent.config.inputs);
    const spec = podSpec(only(objects, 'Deployment'));
    const included = findContainer(spec, 'logagent');
    assert.equal(included.list, 'initContainers');
    assert.deepEqual(
      spec.volumes.find((vol: any) => vol.name === 'logagent-config'),
      { name: 'logagent-config', configMap: { name: 'shop-logagent' } },
    );
    assert.equal(spec.terminationGracePeriodSeconds, 20 + 25 + 5);

    // The same values given to the chart directly, with its example on.
    const dir = mkdtempSync(join(tmpdir(), 'logagent-values-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'values.yaml'), JSON.stringify({ ...parentValues.logagent, example: { enabled: true } }));
    const direct = podSpec(only(await render({ release: 'shop', values: [join(dir, 'values.yaml')] }), 'Deployment'));
    assert.deepEqual(included.container, findContainer(direct, 'logagent').container);
    assert.deepEqual(spec.volumes, direct.volumes);
  });

  test('classic mode moves the included sidecar into containers; the API watch binds the pod ServiceAccount', async (t) => {
    const parent = await parentChartCopy(t);
    const objects = await render({
      chart: parent,
      release: 'shop',
      set: ['logagent.mode=classic', 'logagent.configWatch.api.enabled=true'],
    });
    const spec = podSpec(only(objects, 'Deployment'));
    const located = findContainer(spec, 'logagent');
    assert.equal(located.list, 'containers');
    assert.equal(located.container.restartPolicy, undefined);
    assert.equal(spec.initContainers, null);
    assert.equal(spec.serviceAccountName, only(objects, 'ServiceAccount').metadata.name);
    assert.deepEqual(only(objects, 'Role').rules[0].resourceNames, ['shop-logagent']);
  });

  test("the dependency's schema checks the parent's values for it, and accepts global", async (t) => {
    const parent = await parentChartCopy(t);
    assert.match(await renderError({ chart: parent, set: ['logagent.modee=classic'] }), /additional properties 'modee' not allowed/);
    await render({ chart: parent, set: ['global.imageRegistry=registry.example'] });
  });

  test('below Kubernetes 1.29 the included sidecar refuses native mode and renders in classic mode', async (t) => {
    // A parent chart without its own kubeVersion: Helm checks only the installed chart's, never a dependency's.
    const parent = await parentChartCopy(t, (chart) => delete chart.kubeVersion);
    const error = await renderError({ chart: parent, kubeVersion: '1.28.15' });
    assert.match(
      error,
      /logagent: mode native needs Kubernetes >= 1\.29 \(native sidecar containers\); this is v1\.28\.15\. Set mode: classic\./,
    );
    const objects = await render({ chart: parent, kubeVersion: '1.28.15', set: ['logagent.mode=classic'] });
    assert.equal(findContainer(podSpec(only(objects, 'Deployment')), 'logagent').list, 'containers');
  });
});

describe('the copy-paste snippet in docs/helm.md', { skip }, () => {
  test('is exactly what the chart renders for release web-logagent (native; classic drops restartPolicy)', async () => {
    const doc = readFileSync(join(ROOT, 'docs', 'helm.md'), 'utf8');
    const block = /<!-- snippet:extra-values[^>]*-->\s*```yaml\n([\s\S]*?)```/.exec(doc);
    assert.ok(block?.[1], 'docs/helm.md has the snippet block');
    const snippet = parseYaml(block[1]);
    const objects = await render({ release: 'web-logagent', set: ['example.enabled=true'] });
    const spec = podSpec(only(objects, 'Deployment'));
    const rendered = findContainer(spec, 'logagent').container;
    assert.deepEqual(snippet.extraInitContainers, [rendered]);
    const classic = { ...rendered };
    delete classic.restartPolicy;
    const classicSpec = podSpec(
      only(await render({ release: 'web-logagent', set: ['example.enabled=true', 'mode=classic'] }), 'Deployment'),
    );
    assert.deepEqual(findContainer(classicSpec, 'logagent').container, classic);
    assert.deepEqual(snippet.extraVolumes, spec.volumes);
    assert.equal(snippet.terminationGracePeriodSeconds, spec.terminationGracePeriodSeconds);
    assert.deepEqual(snippet.podSecurityContext.fsGroup, spec.securityContext.fsGroup);
  });
});

describe('the agent accepts the config.yaml the chart renders', { skip }, () => {
  const cli = join(ROOT, 'dist', 'cli.js');
  for (const [name, file] of [
    ['default', ciValues('default')],
    ['native', ciValues('native')],
  ] as const) {
    test(`logagent check-config with LOGAGENT_CONFIG set to the mounted directory (${name} values)`, async (t) => {
      const objects = await render({ values: [file] });
      const dir = mkdtempSync(join(tmpdir(), 'logagent-cm-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      writeFileSync(join(dir, 'config.yaml'), only(objects, 'ConfigMap').data['config.yaml']);
      const c = findContainerOrUndefined(objects);
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', LOGAGENT_CONFIG: dir, LOGAGENT_CHECKPOINT_DIR: dir };
      for (const e of c?.env ?? [])
        if (typeof e.value === 'string' && e.name !== 'LOGAGENT_CONFIG' && e.name !== 'LOGAGENT_CHECKPOINT_DIR') env[e.name] = e.value;
      const r = await new Promise<{ code: number; out: string }>((resolve) =>
        execFile(process.execPath, [cli, 'check-config'], { env }, (err, stdout, stderr) =>
          resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: stdout + stderr }),
        ),
      );
      assert.equal(r.code, 0, r.out);
    });
  }
});

function findContainerOrUndefined(objects: K8sObject[]): any {
  const deployments = objectsOf(objects, 'Deployment');
  return deployments[0] ? findContainer(podSpec(deployments[0]), 'logagent').container : undefined;
}

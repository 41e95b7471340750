// Health for a sidecar: the probes never depend on Kafka (a sidecar's
// readiness is the pod's), while /status and the metrics show the outage.
// Also: every documented metric is there from the start, the histograms fill
// once lines ship, and kafkajs's load-time replacements are checked at start.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  CLI,
  agentStarted,
  appendNumbered,
  consumeAll,
  createTopic,
  freePort,
  kafkaLocal,
  metric,
  ownCluster,
  scrape,
  startAgent,
  tmpDir,
  uniqueTopic,
  waitFor,
} from './helpers.ts';
import { metricsTableMarkdown } from '../../src/metrics-doc.ts';

interface Status {
  ready: boolean;
  kafka: { connected: boolean; failing: boolean; lastError?: string; pendingLines: number };
  files: Array<{ path: string; identity: string; state: string; size: number; readOffset: number; ackedOffset: number; lagBytes: number }>;
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

test(
  'with Kafka stopped, /healthz and /readyz stay 200 while /status and the metrics show the outage and the lag',
  { timeout: 300_000 },
  async (t) => {
    const { env: kenv, bootstrap } = await ownCluster(t, { KAFKA_LOCAL_PORT: '19092' }, 1);
    const dir = tmpDir(t);
    const log = join(dir, 'app.log');
    const topic = uniqueTopic('health');
    await createTopic(topic, 1, 1, bootstrap);
    appendNumbered(log, 0, 100);
    const port = await freePort();
    const agent = startAgent(t, {
      KAFKA_BROKERS: bootstrap,
      KAFKA_RETRY_MAX_BACKOFF_MS: '500',
      LOGAGENT_TOPIC: topic,
      LOGAGENT_PATHS: log,
      LOGAGENT_START_AT: 'beginning',
      LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp'),
      LOGAGENT_HTTP_PORT: String(port),
      LOGAGENT_HTTP_HOST: '127.0.0.1',
    });
    await agentStarted(agent);
    await consumeAll(topic, { expected: 100, bootstrap });
    assert.equal((await get(port, '/healthz')).status, 200);
    assert.equal((await get(port, '/readyz')).status, 200);

    await kafkaLocal(['stop-node', '0'], kenv);
    appendNumbered(log, 100, 200);
    await agent.waitForLog((r) => r.msg === 'kafka delivery failed; retrying (lines wait on disk, nothing is dropped)', 60_000);
    const healthz = await get(port, '/healthz');
    assert.equal(healthz.status, 200, `healthz during the outage: ${healthz.body}`);
    assert.equal((await get(port, '/readyz')).status, 200, 'the pod stays ready: Kafka is not the app');
    const status = JSON.parse((await get(port, '/status')).body) as Status;
    assert.equal(status.ready, true);
    assert.equal(status.kafka.failing, true);
    assert.ok(status.kafka.lastError, 'the last error is reported');
    const file = status.files.find((f) => f.path === log);
    assert.ok(file, 'the file is listed');
    assert.ok(file.lagBytes > 0 && file.ackedOffset < file.size, `lag reported: ${JSON.stringify(file)}`);
    assert.match(file.identity, /^\d+:\d+$/);
    const text = await scrape(port);
    assert.equal(metric(text, 'logagent_kafka_connected'), 0);
    assert.ok(metric(text, 'logagent_kafka_send_errors_total') > 0);
    assert.ok(metric(text, 'logagent_file_lag_bytes') > 0);

    await kafkaLocal(['start-node', '0'], kenv);
    await waitFor(async () => (JSON.parse((await get(port, '/status')).body) as Status).files[0]?.lagBytes === 0, 120_000, 'caught up');
    const after = await scrape(port);
    assert.equal(metric(after, 'logagent_kafka_connected'), 1);
    assert.equal(await agent.stop(), 0);
  },
);

test('every metric of the README table is exported from the start, and the histograms fill once lines ship', async (t) => {
  const dir = tmpDir(t);
  const log = join(dir, 'app.log');
  const topic = uniqueTopic('metrics');
  appendNumbered(log, 0, 50);
  const port = await freePort();
  const agent = startAgent(t, {
    LOGAGENT_TOPIC: topic,
    LOGAGENT_PATHS: join(dir, 'none-yet-*.log'),
    LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp'),
    LOGAGENT_HTTP_PORT: String(port),
    LOGAGENT_HTTP_HOST: '127.0.0.1',
    LOGAGENT_START_AT: 'beginning',
  });
  await agentStarted(agent);
  const before = await scrape(port);
  const documented = [...(await metricsTableMarkdown()).matchAll(/^\| `(logagent_[a-z_]+)`/gm)].map((m) => m[1] as string);
  assert.ok(documented.length > 20);
  for (const name of documented) {
    if (name === 'logagent_file_lag_bytes' || name === 'logagent_config_info') continue; // per file / per config: checked below
    // A histogram is exported as its _bucket, _sum and _count series.
    assert.match(before, new RegExp(`^${name}(_count)?(\\{[^}]*\\})? `, 'm'), `${name} exported from the start`);
  }
  assert.match(before, /^logagent_config_info\{hash="[0-9a-f]{12}"\} 1$/m);
  assert.match(before, /^process_resident_memory_bytes /m, 'default process metrics');
  assert.match(before, /^nodejs_eventloop_lag_seconds /m, 'event loop lag');
  assert.equal(metric(before, 'logagent_kafka_request_duration_seconds_count'), 0);

  await agent.stop();
  const shipping = startAgent(t, {
    LOGAGENT_TOPIC: topic,
    LOGAGENT_PATHS: log,
    LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp2'),
    LOGAGENT_HTTP_PORT: String(port),
    LOGAGENT_HTTP_HOST: '127.0.0.1',
    LOGAGENT_START_AT: 'beginning',
  });
  await agentStarted(shipping);
  await consumeAll(topic, { expected: 50 });
  await waitFor(async () => metric(await scrape(port), 'logagent_lines_acked_total') === 50, 10_000, '50 lines acknowledged');
  const after = await scrape(port);
  assert.ok(metric(after, 'logagent_kafka_request_duration_seconds_count') >= 1);
  assert.ok(metric(after, 'logagent_read_to_ack_seconds_count') >= 1);
  assert.equal(metric(after, 'logagent_kafka_batch_records_sum'), 50);
  assert.match(after, new RegExp(`^logagent_file_lag_bytes\\{path="${log.replace(/[/.]/g, '\\$&')}"\\} 0$`, 'm'));
  assert.equal(await shipping.stop(), 0);
});

test('with KAFKA_CLIENT=kafkajs, kafkajs loaded before the agent could replace its internals: the agent refuses to start and names what is not replaced', async () => {
  // --require loads kafkajs before dist/cli.js runs, as a stray import would.
  const result = await promisify(execFile)(process.execPath, ['--require', 'kafkajs', CLI, 'run'], {
    env: {
      PATH: process.env.PATH ?? '',
      KAFKA_CLIENT: 'kafkajs',
      LOGAGENT_TOPIC: 't',
      LOGAGENT_PATHS: '/nonexistent/*.log',
      LOGAGENT_HTTP_PORT: '0',
      LOGAGENT_CHECKPOINT_DIR: '/tmp/logagent-patchcheck',
    },
    timeout: 30_000,
  }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code?: number; stderr?: string }) => ({ code: err.code ?? -1, stderr: err.stderr ?? '' }),
  );
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /kafkajs internals are not the ones this build replaces/);
  assert.match(result.stderr, /kafkajs was loaded before src\/sink\/kafkajs\.ts/);
  // sendMessages.js captured kafkajs's own grouping when it was loaded: named.
  assert.match(result.stderr, /batch grouping \(.*groupMessagesPerPartition\.js\)/);
});

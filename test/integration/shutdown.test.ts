// Shutdown when Kafka cannot take the last lines: the deadline bounds it,
// whatever the broker does (a closed port, a broker that accepts connections
// and never answers, a broker stopped mid-request), what was acknowledged
// stays checkpointed, a second signal ends it at once, and the process ends
// after every shutdown. An unusable checkpoint directory is a clear error at
// start.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  agentStarted,
  appendNumbered,
  consumeAll,
  createTopic,
  kafkaLocal,
  missing,
  ownCluster,
  runCli,
  startAgent,
  tally,
  tmpDir,
  uniqueTopic,
  waitFor,
} from './helpers.ts';

const unreachable = { KAFKA_BROKERS: '127.0.0.1:1', KAFKA_RETRY_MAX_BACKOFF_MS: '200', KAFKA_CONNECTION_TIMEOUT_MS: '200' };

test('with Kafka unreachable, SIGTERM ends within the shutdown deadline with exit 1, keeping the checkpoint at the last acknowledged line', async (t) => {
  const dir = tmpDir(t);
  const log = join(dir, 'app.log');
  appendNumbered(log, 0, 100);
  const agent = startAgent(t, {
    ...unreachable,
    LOGAGENT_TOPIC: uniqueTopic('deadline'),
    LOGAGENT_PATHS: log,
    LOGAGENT_START_AT: 'beginning',
    LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp'),
    LOGAGENT_SHUTDOWN_DEADLINE_MS: '2000',
  });
  await agentStarted(agent);
  await agent.waitForLog((r) => r.msg === 'kafka delivery failed; retrying (lines wait on disk, nothing is dropped)');
  const signalledAt = Date.now();
  const code = await agent.stop();
  const tookMs = Date.now() - signalledAt;
  assert.equal(code, 1, 'an unclean shutdown says so in its exit code');
  assert.ok(tookMs >= 1_900 && tookMs < 6_000, `took ${tookMs} ms for a 2000 ms deadline`);
  const stopped = agent.records().find((r) => r.msg === 'logagent stopped');
  assert.equal(stopped?.clean, false);
  assert.ok(Number(stopped?.unacknowledgedLines) > 0);
  const saved = JSON.parse(readFileSync(join(dir, 'cp', 'checkpoints.json'), 'utf8')) as { files: Record<string, { offset: number }> };
  assert.deepEqual(
    Object.values(saved.files).map((e) => e.offset),
    [0],
    'nothing was acknowledged, so the checkpoint stays at the start: a restart ships everything',
  );
});

test('a second signal during a slow shutdown exits at once with 130', async (t) => {
  const dir = tmpDir(t);
  const log = join(dir, 'app.log');
  appendNumbered(log, 0, 10);
  const agent = startAgent(t, {
    ...unreachable,
    LOGAGENT_TOPIC: uniqueTopic('twice'),
    LOGAGENT_PATHS: log,
    LOGAGENT_START_AT: 'beginning',
    LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp'),
    LOGAGENT_SHUTDOWN_DEADLINE_MS: '60000',
  });
  await agentStarted(agent);
  agent.signal('SIGTERM');
  await agent.waitForLog((r) => r.msg === 'shutting down: waiting for files to go quiet');
  const secondAt = Date.now();
  agent.signal('SIGINT');
  assert.equal(await agent.exited, 130);
  assert.ok(Date.now() - secondAt < 2_000, 'exits at once, not at the 60 s deadline');
});

/** A "broker" that accepts TCP connections and never answers a byte. */
async function silentBroker(t: TestContext): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

test('a broker that accepts connections and never answers: SIGTERM ends within the deadline plus a small constant, exit 1, checkpoint at the start', async (t) => {
  const dir = tmpDir(t);
  const log = join(dir, 'app.log');
  appendNumbered(log, 0, 1_000);
  const DEADLINE_MS = 3_000;
  const agent = startAgent(t, {
    KAFKA_BROKERS: await silentBroker(t),
    // kafkajs's own default: a request may wait 30 s for an answer.
    KAFKA_REQUEST_TIMEOUT_MS: '30000',
    LOGAGENT_TOPIC: uniqueTopic('silent'),
    LOGAGENT_PATHS: log,
    LOGAGENT_START_AT: 'beginning',
    LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp'),
    LOGAGENT_SHUTDOWN_DEADLINE_MS: String(DEADLINE_MS),
  });
  await agentStarted(agent);
  await new Promise((r) => setTimeout(r, 1_500)); // the first produce attempt is now waiting on the silent socket
  const signalledAt = Date.now();
  const code = await agent.stop();
  const tookMs = Date.now() - signalledAt;
  t.diagnostic(`shutdown took ${tookMs} ms for a ${DEADLINE_MS} ms deadline`);
  assert.equal(code, 1, 'an unclean shutdown says so in its exit code');
  assert.ok(tookMs < DEADLINE_MS + 2_500, `took ${tookMs} ms: the deadline holds against a silent broker`);
  assert.ok(!agent.logs().includes('still running after logagent stopped'), 'nothing kept the process alive after it stopped');
  const stopped = agent.records().find((r) => r.msg === 'logagent stopped');
  assert.equal(stopped?.clean, false);
  const saved = JSON.parse(readFileSync(join(dir, 'cp', 'checkpoints.json'), 'utf8')) as { files: Record<string, { offset: number }> };
  assert.deepEqual(
    Object.values(saved.files).map((e) => e.offset),
    [0],
    'nothing was acknowledged',
  );
});

test(
  'the broker stopped while requests are in flight: SIGTERM ends within the deadline, and the checkpoint covers only lines Kafka has',
  { timeout: 300_000 },
  async (t) => {
    const { env: kenv, bootstrap } = await ownCluster(t, { KAFKA_LOCAL_PORT: '19092' }, 1);
    const dir = tmpDir(t);
    const log = join(dir, 'app.log');
    const cp = join(dir, 'cp');
    const topic = uniqueTopic('midflight');
    await createTopic(topic, 1, 1, bootstrap);
    const DEADLINE_MS = 4_000;
    const agent = startAgent(t, {
      KAFKA_BROKERS: bootstrap,
      LOGAGENT_TOPIC: topic,
      LOGAGENT_PATHS: log,
      LOGAGENT_START_AT: 'beginning',
      LOGAGENT_CHECKPOINT_DIR: cp,
      LOGAGENT_SHUTDOWN_DEADLINE_MS: String(DEADLINE_MS),
      LOGAGENT_SHUTDOWN_QUIET_MS: '0',
    });
    await agentStarted(agent);
    // Lines keep coming, so requests are in flight when the broker goes.
    let n = 0;
    const writer = setInterval(() => {
      appendNumbered(log, n, n + 2_000);
      n += 2_000;
    }, 20);
    t.after(() => clearInterval(writer));
    await waitFor(() => existsSync(join(cp, 'checkpoints.json')) && offsetOf(cp) > 0, 30_000, 'first lines acknowledged');
    await kafkaLocal(['stop-node', '0'], kenv);
    clearInterval(writer);
    const signalledAt = Date.now();
    const code = await agent.stop();
    const tookMs = Date.now() - signalledAt;
    t.diagnostic(`shutdown took ${tookMs} ms (deadline ${DEADLINE_MS} ms), exit ${code}`);
    assert.ok(tookMs < DEADLINE_MS + 2_500, `took ${tookMs} ms`);
    assert.ok(code === 1 || code === 0, `exit ${code}`);
    const offset = offsetOf(cp);
    const linesCheckpointed = readFileSync(log).subarray(0, offset).toString().split('\n').length - 1;
    await kafkaLocal(['start-node', '0'], kenv);
    const got = await consumeAll(topic, { expected: linesCheckpointed, bootstrap, settleMs: 500 });
    const counts = tally(got);
    assert.deepEqual(missing(counts, 0, linesCheckpointed), [], 'every line the checkpoint covers is in Kafka');
  },
);

function offsetOf(cp: string): number {
  const saved = JSON.parse(readFileSync(join(cp, 'checkpoints.json'), 'utf8')) as { files: Record<string, { offset: number }> };
  return Object.values(saved.files)[0]?.offset ?? 0;
}

for (const [what, checkpointDir, expected] of [
  ['a directory that cannot be created (/proc/nope)', '/proc/nope', /ENOENT/],
  ['a path under a regular file', '/etc/hostname/checkpoints', /ENOTDIR/],
] as const) {
  test(`an unusable checkpoint directory, ${what}, exits 2 at once naming the key, the path and the OS error`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'logagent-cpdir-'));
    try {
      appendNumbered(join(dir, 'app.log'), 0, 3);
      const startedAt = Date.now();
      const result = await runCli(
        ['run'],
        {
          KAFKA_BROKERS: '127.0.0.1:1',
          LOGAGENT_TOPIC: 't',
          LOGAGENT_PATHS: join(dir, 'app.log'),
          LOGAGENT_CHECKPOINT_DIR: checkpointDir,
          LOGAGENT_HTTP_PORT: '0',
        },
        20_000,
      );
      const tookMs = Date.now() - startedAt;
      assert.equal(result.code, 2, result.stderr);
      assert.ok(tookMs < 10_000, `exited after ${tookMs} ms`);
      assert.match(result.stderr, /checkpoint\.dir \(env LOGAGENT_CHECKPOINT_DIR\)/);
      assert.ok(result.stderr.includes(checkpointDir), 'names the path');
      assert.match(result.stderr, expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

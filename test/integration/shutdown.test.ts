// Shutdown when Kafka cannot take the last lines: the deadline bounds it,
// what was acknowledged stays checkpointed, and a second signal ends it at
// once. Kafka is unreachable here on purpose (a closed port), so these run
// without the broker.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentStarted, appendNumbered, startAgent, tmpDir, uniqueTopic } from './helpers.ts';

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

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentStarted, appendNumbered, consumeAll, startAgent, tmpDir, uniqueTopic } from './helpers.ts';

test('a batch larger than the broker accepts is split, and every line arrives once, in order', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('split');
  const log = join(dir, 'app.log');
  // ~3.3 MB of lines: one 4 MiB batch is over the broker's default
  // message.max.bytes (1 MiB), so the first produce request is rejected.
  appendNumbered(log, 0, 30_000, `line-${'x'.repeat(100)}-`);
  const agent = startAgent(t, {
    LOGAGENT_TOPIC: topic,
    LOGAGENT_PATHS: log,
    LOGAGENT_START_AT: 'beginning',
    LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp'),
    KAFKA_BATCH_MAX_BYTES: String(4 * 1024 * 1024),
    KAFKA_LINGER_MS: '200',
  });
  await agentStarted(agent);
  const got = await consumeAll(topic, { expected: 30_000 });
  assert.equal(await agent.stop(), 0);
  assert.ok(
    agent.records().some((r) => r.msg === 'kafka rejected a request as too large; splitting it'),
    'the broker rejected the big request at least once',
  );
  assert.equal(got.length, 30_000, 'no line lost or repeated');
  assert.deepEqual(
    got.map((m) => m.value),
    Array.from({ length: 30_000 }, (_, i) => `line-${'x'.repeat(100)}-${i}`),
  );
});

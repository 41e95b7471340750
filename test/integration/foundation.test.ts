import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentStarted, appendNumbered, consumeAll, missing, startAgent, tally, tmpDir, uniqueTopic } from './helpers.ts';

test('10,000 lines arrive exactly once, byte-identical, in file order within their partition', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('order');
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const agent = startAgent(t, { LOGAGENT_TOPIC: topic, LOGAGENT_PATHS: log, LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp') });
  await agentStarted(agent);
  appendNumbered(log, 0, 5_000);
  appendNumbered(log, 5_000, 10_000);
  const got = await consumeAll(topic, { expected: 10_000 });
  assert.equal(await agent.stop(), 0);
  assert.equal(got.length, 10_000, 'exactly 10,000 messages, no duplicates');
  assert.deepEqual(
    got.map((m) => m.value),
    Array.from({ length: 10_000 }, (_, i) => `line-${i}`),
  );
  assert.ok(got.every((m) => m.key === log && m.partition === got[0]?.partition));
  assert.deepEqual(missing(tally(got), 0, 10_000), []);
});

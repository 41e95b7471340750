import assert from 'node:assert/strict';
import { appendFileSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentStarted, appendNumbered, consumeAll, runCli, startAgent, tmpDir, uniqueTopic } from './helpers.ts';

interface Row {
  path: string;
  identity: string;
  size: number;
  checkpoint: number | null;
  action: string;
  offset: number;
  reason: string;
}

test('logagent checkpoints tells, per file, what a restart would do', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('cpcmd');
  const a = join(dir, 'a.log');
  const b = join(dir, 'b.log');
  const c = join(dir, 'c.log');
  appendNumbered(a, 0, 100);
  appendNumbered(b, 0, 100);
  const env = {
    LOGAGENT_TOPIC: topic,
    LOGAGENT_PATHS: join(dir, '*.log'),
    LOGAGENT_START_AT: 'beginning',
    LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp'),
  };
  const agent = startAgent(t, env);
  await agentStarted(agent);
  assert.equal((await consumeAll(topic, { expected: 200 })).length, 200);
  assert.equal(await agent.stop(), 0);

  const sizeA = statSync(a).size;
  appendNumbered(a, 100, 110); // a: 10 lines to ship
  truncateSync(b, 0); // b: truncated since the checkpoint
  appendFileSync(b, 'short\n');
  writeFileSync(c, 'new\n'); // c: no checkpoint

  const res = await runCli(['checkpoints', '--json'], { ...env, KAFKA_BROKERS: '127.0.0.1:1' });
  assert.equal(res.code, 0, res.stderr);
  const rows = (JSON.parse(res.stdout) as { files: Row[] }).files;
  const byPath = new Map(rows.map((r) => [r.path, r]));

  assert.equal(byPath.get(a)?.action, 'resume');
  assert.equal(byPath.get(a)?.offset, sizeA);
  assert.equal(byPath.get(a)?.checkpoint, sizeA);
  assert.match(byPath.get(a)?.reason ?? '', /bytes to ship/);

  assert.equal(byPath.get(b)?.action, 'start-over');
  assert.equal(byPath.get(b)?.offset, 0);
  assert.match(byPath.get(b)?.reason ?? '', /truncated|changed/);

  assert.equal(byPath.get(c)?.action, 'start-over', 'LOGAGENT_START_AT=beginning applies to a file without checkpoint');
  assert.equal(byPath.get(c)?.checkpoint, null);

  const text = await runCli(['checkpoints'], env);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /ON RESTART/);
  assert.match(text.stdout, new RegExp(`${a.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+\\S+\\s+\\d+\\s+${sizeA}\\s+resume @${sizeA}`));

  // And the restart does exactly what the dry run said.
  const again = startAgent(t, env);
  await agentStarted(again);
  const all = await consumeAll(topic, { expected: 200 + 10 + 1 + 1 });
  assert.equal(await again.stop(), 0);
  const values = all.map((m) => m.value);
  assert.equal(values.filter((v) => v === 'short').length, 1);
  assert.equal(values.filter((v) => v === 'new').length, 1);
  for (let i = 100; i < 110; i++) assert.equal(values.filter((v) => v === `line-${i}`).length, 1);
  assert.equal(all.length, 212, 'nothing from a.log is sent twice');
});

test('a file that replaced a tailed file while the agent was stopped is read from its first line, even with LOGAGENT_START_AT=end', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('replaced');
  const log = join(dir, 'app.log');
  appendNumbered(log, 0, 50);
  const env = { LOGAGENT_TOPIC: topic, LOGAGENT_PATHS: log, LOGAGENT_START_AT: 'end', LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp') };
  const first = startAgent(t, env);
  await agentStarted(first);
  appendNumbered(log, 50, 60);
  assert.equal((await consumeAll(topic, { expected: 10 })).length, 10);
  assert.equal(await first.stop(), 0);

  // Rotated while the agent is down: the old file leaves the glob, a new one takes the path.
  renameSync(log, `${log}.1`);
  appendNumbered(log, 1000, 1020);

  const second = startAgent(t, env);
  await agentStarted(second);
  const got = await consumeAll(topic, { expected: 30 });
  assert.equal(await second.stop(), 0);
  const values = got.map((m) => m.value);
  assert.deepEqual(
    values.slice(10),
    Array.from({ length: 20 }, (_, i) => `line-${1000 + i}`),
  );
  assert.equal(got.length, 30);
});

import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ACKS, COMPRESSIONS } from '../../src/config/schema.ts';
import {
  agentStarted,
  appendNumbered,
  consumeAll,
  consumeAllRaw,
  createTopic,
  javaPartition,
  kcatPath,
  kcatValues,
  missing,
  numbered,
  partitionCount,
  startAgent,
  storedCodecs,
  tally,
  tmpDir,
  topicExists,
  uniqueTopic,
  type Consumed,
} from './helpers.ts';

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

/** Values per key, in arrival order. */
function valuesByKey(messages: Consumed[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of messages) {
    let values = out.get(m.key);
    if (!values) out.set(m.key, (values = []));
    values.push(m.value);
  }
  return out;
}

/** Partitions each key's messages landed on. */
function partitionsByKey(messages: Consumed[]): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const m of messages) {
    let partitions = out.get(m.key);
    if (!partitions) out.set(m.key, (partitions = new Set()));
    partitions.add(m.partition);
  }
  return out;
}

function sortedValues(messages: Consumed[]): string[] {
  return messages.map((m) => m.value).sort();
}

function baseEnv(dir: string, topic: string, paths: string): Record<string, string> {
  return { LOGAGENT_TOPIC: topic, LOGAGENT_PATHS: paths, LOGAGENT_CHECKPOINT_DIR: join(dir, 'checkpoints') };
}

test('every file one glob matches arrives line by line keyed by its path, including a file created after the agent started, read from its first line', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('glob');
  const a = join(dir, 'a.log');
  const b = join(dir, 'b.log');
  const late = join(dir, 'late.log');
  const unmatched = join(dir, 'other.txt');
  writeFileSync(a, '');
  writeFileSync(b, '');
  writeFileSync(unmatched, '');
  // LOGAGENT_START_AT is left at its default, end.
  const agent = startAgent(t, baseEnv(dir, topic, join(dir, '*.log')));
  await agentStarted(agent);
  appendNumbered(a, 0, 200, 'a-');
  appendNumbered(b, 0, 200, 'b-');
  appendNumbered(unmatched, 0, 50, 'other-');
  // Created now, with its first lines already in it when discovery finds it.
  appendNumbered(late, 0, 150, 'late-');
  appendNumbered(late, 150, 200, 'late-');
  const got = await consumeAll(topic, { expected: 600 });
  assert.equal(await agent.stop(), 0);
  assert.equal(got.length, 600, 'each line exactly once, nothing from the unmatched file');
  assert.deepEqual(
    valuesByKey(got),
    new Map([
      [a, numbered(0, 200, 'a-')],
      [b, numbered(0, 200, 'b-')],
      [late, numbered(0, 200, 'late-')],
    ]),
  );
});

test('with LOGAGENT_START_AT=end, lines already in a file are not shipped and lines appended after start are', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('start-end');
  const log = join(dir, 'app.log');
  appendNumbered(log, 0, 300, 'old-');
  const agent = startAgent(t, { ...baseEnv(dir, topic, log), LOGAGENT_START_AT: 'end' });
  await agentStarted(agent);
  appendNumbered(log, 0, 300, 'new-');
  const got = await consumeAll(topic, { expected: 300 });
  assert.equal(await agent.stop(), 0);
  assert.deepEqual(
    got.map((m) => m.value),
    numbered(0, 300, 'new-'),
  );
});

test('with LOGAGENT_START_AT=beginning, lines already in a file are shipped too, followed by the appended ones', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('start-beginning');
  const log = join(dir, 'app.log');
  appendNumbered(log, 0, 300, 'old-');
  const agent = startAgent(t, { ...baseEnv(dir, topic, log), LOGAGENT_START_AT: 'beginning' });
  await agentStarted(agent);
  appendNumbered(log, 0, 300, 'new-');
  const got = await consumeAll(topic, { expected: 600 });
  assert.equal(await agent.stop(), 0);
  assert.deepEqual(
    got.map((m) => m.value),
    [...numbered(0, 300, 'old-'), ...numbered(0, 300, 'new-')],
  );
});

for (const acks of ACKS) {
  test(`with KAFKA_ACKS=${acks} every line reaches the broker exactly once`, async (t) => {
    const dir = tmpDir(t);
    const topic = uniqueTopic(`acks-${acks}`);
    const log = join(dir, 'app.log');
    writeFileSync(log, '');
    const agent = startAgent(t, { ...baseEnv(dir, topic, log), KAFKA_ACKS: acks });
    await agentStarted(agent);
    appendNumbered(log, 0, 1_000);
    const got = await consumeAll(topic, { expected: 1_000 });
    assert.equal(await agent.stop(), 0);
    assert.equal(got.length, 1_000);
    assert.deepEqual(missing(tally(got), 0, 1_000), []);
    assert.deepEqual(
      got.map((m) => m.value),
      numbered(0, 1_000),
    );
  });
}

test('the manual partitioner puts every message on KAFKA_PARTITION', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('part-manual');
  await createTopic(topic, 3);
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const agent = startAgent(t, { ...baseEnv(dir, topic, log), KAFKA_PARTITIONER: 'manual', KAFKA_PARTITION: '2' });
  await agentStarted(agent);
  appendNumbered(log, 0, 300);
  const got = await consumeAll(topic, { expected: 300 });
  assert.equal(await agent.stop(), 0);
  assert.deepEqual(
    got.map((m) => m.value),
    numbered(0, 300),
  );
  assert.deepEqual(new Set(got.map((m) => m.partition)), new Set([2]));
});

test("the hash partitioner keeps each file's lines on the one partition the Java client's murmur2 picks for its path, in file order", async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('part-hash');
  await createTopic(topic, 3);
  const files = ['a.log', 'b.log', 'c.log', 'd.log', 'e.log', 'f.log'].map((name) => join(dir, name));
  for (const file of files) writeFileSync(file, '');
  const agent = startAgent(t, { ...baseEnv(dir, topic, join(dir, '*.log')), KAFKA_PARTITIONER: 'hash' });
  await agentStarted(agent);
  for (const file of files) appendNumbered(file, 0, 100);
  const got = await consumeAll(topic, { expected: 600 });
  assert.equal(await agent.stop(), 0);
  assert.equal(got.length, 600);
  assert.deepEqual(partitionsByKey(got), new Map(files.map((file) => [file, new Set([javaPartition(file, 3)])])));
  assert.deepEqual(valuesByKey(got), new Map(files.map((file) => [file, numbered(0, 100)])));
});

test('the round-robin partitioner spreads messages evenly over all three partitions', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('part-rr');
  await createTopic(topic, 3);
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const agent = startAgent(t, { ...baseEnv(dir, topic, log), KAFKA_PARTITIONER: 'round-robin' });
  await agentStarted(agent);
  appendNumbered(log, 0, 150);
  appendNumbered(log, 150, 301);
  const got = await consumeAll(topic, { expected: 301 });
  assert.equal(await agent.stop(), 0);
  assert.deepEqual(sortedValues(got), numbered(0, 301).sort());
  // One message to each partition in turn: counts differ by at most one.
  const counts = [0, 1, 2].map((p) => got.filter((m) => m.partition === p).length);
  for (const count of counts) assert.ok(Math.abs(count - 301 / 3) <= 1, `partition counts ${counts.join(', ')}`);
});

test('the random partitioner uses more than one partition for 300 lines', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('part-random');
  await createTopic(topic, 3);
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const agent = startAgent(t, { ...baseEnv(dir, topic, log), KAFKA_PARTITIONER: 'random' });
  await agentStarted(agent);
  appendNumbered(log, 0, 300);
  const got = await consumeAll(topic, { expected: 300 });
  assert.equal(await agent.stop(), 0);
  assert.deepEqual(sortedValues(got), numbered(0, 300).sort());
  assert.ok(new Set(got.map((m) => m.partition)).size > 1, 'messages on more than one partition');
});

/**
 * Lines that exercise a codec: compressible text, incompressible bytes,
 * multi-byte UTF-8 and invalid UTF-8, long and empty lines; ~600 KiB, so a
 * batch spans several LZ4 blocks. Deterministic; never contains \n or \r.
 */
function codecLines(count: number): Buffer[] {
  let seed = 0x2545f491;
  const random = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const lines: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const noise = Buffer.alloc(random() % (i % 50 === 0 ? 4_000 : 200));
    for (let j = 0; j < noise.length; j++) {
      const byte = random() & 0xff;
      noise[j] = byte === 0x0a || byte === 0x0d ? 0x20 : byte;
    }
    const text = Buffer.from(`line-${i} GET /api/v1/items?id=${i % 97} 200 ünïcödé ✓\t${'abc'.repeat(i % 40)} `);
    lines.push(i % 250 === 7 ? Buffer.alloc(0) : Buffer.concat([text, noise]));
  }
  return lines;
}

for (const codec of COMPRESSIONS) {
  test(`with KAFKA_COMPRESSION=${codec} lines round-trip through the broker byte-identical`, async (t) => {
    const dir = tmpDir(t);
    const topic = uniqueTopic(`codec-${codec}`);
    const log = join(dir, 'app.log');
    writeFileSync(log, '');
    const lines = codecLines(3_000);
    const agent = startAgent(t, { ...baseEnv(dir, topic, log), KAFKA_COMPRESSION: codec });
    await agentStarted(agent);
    writeFileSync(log, Buffer.concat(lines.flatMap((line) => [line, Buffer.from('\n')])), { flag: 'a' });
    const got = await consumeAllRaw(t, topic, { expected: lines.length, timeoutMs: 30_000 });
    assert.equal(await agent.stop(), 0);
    assert.equal(got.length, lines.length);
    assert.ok(
      got.every((m, i) => m.value?.equals(lines[i] as Buffer)),
      'every value byte-identical to its line, in file order',
    );

    const stored = storedCodecs(topic);
    await t.test(
      'the broker stored the batches with that codec',
      { skip: stored === undefined && 'broker data directory not on this machine' },
      () => {
        assert.deepEqual(stored, new Set([codec]));
      },
    );
    const kcat = kcatPath();
    await t.test(
      'a non-kafkajs client (kcat, librdkafka) reads the same bytes',
      { skip: kcat === undefined && !process.env.CI && 'kcat is not installed' },
      async () => {
        const values = await kcatValues(kcat as string, topic);
        assert.equal(values.length, lines.length);
        assert.ok(
          values.every((v, i) => v.equals(lines[i] as Buffer)),
          'kcat read every line byte-identical',
        );
      },
    );
  });
}

test('a missing topic is created by the agent with KAFKA_TOPIC_PARTITIONS partitions', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('create');
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  assert.equal(await topicExists(topic), false);
  const agent = startAgent(t, { ...baseEnv(dir, topic, log), KAFKA_TOPIC_PARTITIONS: '2' });
  await agentStarted(agent);
  appendNumbered(log, 0, 200);
  const got = await consumeAll(topic, { expected: 200 });
  assert.equal(await agent.stop(), 0);
  // The broker's own auto-creation would have made 1 partition (num.partitions).
  assert.equal(await partitionCount(topic), 2);
  assert.deepEqual(
    got.map((m) => m.value),
    numbered(0, 200),
  );
});

test('with KAFKA_TOPIC_CREATE=false and a missing topic the agent keeps running, logs an error naming the topic and KAFKA_TOPIC_CREATE, and delivers once the topic exists', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('nocreate');
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const agent = startAgent(t, { ...baseEnv(dir, topic, log), KAFKA_TOPIC_CREATE: 'false', KAFKA_RETRY_MAX_BACKOFF_MS: '500' });
  await agentStarted(agent);
  appendNumbered(log, 0, 100);
  const error = await agent.waitForLog((r) => r.level === 'error' && JSON.stringify(r).includes(topic));
  assert.match(JSON.stringify(error), /KAFKA_TOPIC_CREATE/);
  assert.equal(agent.proc.exitCode, null, 'the agent is still running');
  assert.equal(await topicExists(topic), false, 'the agent did not create the topic');

  await createTopic(topic);
  const got = await consumeAll(topic, { expected: 100 });
  assert.equal(agent.proc.exitCode, null, 'the agent is still running');
  assert.equal(await agent.stop(), 0);
  assert.deepEqual(
    got.map((m) => m.value),
    numbered(0, 100),
  );
});

test('SIGTERM on an idle agent exits 0 promptly and writes the checkpoint file with the file identity and its acknowledged end', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('sigterm');
  const log = join(dir, 'app.log');
  const checkpointDir = join(dir, 'checkpoints');
  writeFileSync(log, '');
  // No periodic checkpoint during the test: only the shutdown writes the file.
  const agent = startAgent(t, { ...baseEnv(dir, topic, log), LOGAGENT_CHECKPOINT_INTERVAL_MS: '600000' });
  await agentStarted(agent);
  appendNumbered(log, 0, 50);
  assert.equal((await consumeAll(topic, { expected: 50 })).length, 50);
  const checkpointFile = join(checkpointDir, 'checkpoints.json');
  // The start position is written at start (offset 0 here); only the
  // shutdown can move it past the 50 acknowledged lines.
  const atStart = JSON.parse(readFileSync(checkpointFile, 'utf8')) as { files: Record<string, { offset: number }> };
  assert.deepEqual(
    Object.values(atStart.files).map((e) => e.offset),
    [0],
    'only the start position is on disk before the shutdown',
  );

  const signalledAt = Date.now();
  const code = await agent.stop();
  const tookMs = Date.now() - signalledAt;
  assert.equal(code, 0);
  assert.ok(tookMs < 5_000, `exited ${tookMs} ms after SIGTERM`);

  const st = statSync(log, { bigint: true });
  const saved = JSON.parse(readFileSync(checkpointFile, 'utf8')) as { files: Record<string, { path: string; offset: number }> };
  const entry = saved.files[`${st.dev}:${st.ino}`];
  assert.ok(entry, `checkpoint entry for ${st.dev}:${st.ino} in ${JSON.stringify(saved)}`);
  assert.equal(entry.path, log);
  assert.equal(entry.offset, Number(st.size));
});

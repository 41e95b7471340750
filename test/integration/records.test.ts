// Records as consumers see them, against the real broker and the real agent:
// the JSON envelope (fields typed, pod metadata, a JSON line merged, binary
// bytes escaped and recoverable), keys, static headers, the source and
// offset headers on every record, multiline events that survive SIGKILL
// restarts whole, and the consumer-side de-duplication recipe of
// docs/records.md giving every event exactly once.

import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  agentStarted,
  consumeAllRaw,
  createTopic,
  startAgent,
  tmpDir,
  uniqueTopic,
  type AgentProcess,
  type RawConsumed,
} from './helpers.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('the JSON envelope: message, time, file path and offset, pod metadata, static fields, typed; a JSON line merged; binary bytes escaped', async (t) => {
  const dir = tmpDir(t);
  const log = join(dir, 'app.log');
  const topic = uniqueTopic('envelope');
  const lines = [
    Buffer.from('plain text line\n'),
    Buffer.from('{"level":"warn","msg":"disk","message":"theirs"}\n'),
    Buffer.from([0x62, 0x69, 0x6e, 0xff, 0xfe, 0x5c, 0x0a]),
  ];
  writeFileSync(log, Buffer.concat(lines));
  const agent = startAgent(t, {
    LOGAGENT_TOPIC: topic,
    LOGAGENT_PATHS: log,
    LOGAGENT_START_AT: 'beginning',
    LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp'),
    LOGAGENT_FORMAT: 'json',
    LOGAGENT_PARSE: 'json',
    LOGAGENT_PARSED_FIELD: 'app',
    LOGAGENT_CONTAINER: 'web',
    LOGAGENT_FIELDS: 'team=checkout,env=test',
    LOGAGENT_HEADERS: 'cluster=eu-1',
    POD_NAME: 'web-5f7',
    POD_NAMESPACE: 'shop',
    NODE_NAME: 'node-3',
    POD_UID: 'uid-123',
  });
  await agentStarted(agent);
  const got = await consumeAllRaw(t, topic, { expected: 3 });
  assert.equal(await agent.stop(), 0);
  const docs = got.map((m) => JSON.parse(m.value?.toString() ?? 'null') as Record<string, any>);
  let offset = 0;
  docs.forEach((doc, i) => {
    assert.equal(typeof doc['@timestamp'], 'string');
    assert.ok(Math.abs(Date.parse(doc['@timestamp']) - Date.now()) < 60_000, 'the read time');
    assert.deepEqual(doc.log, { file: { path: log, offset } }, 'path and byte offset, a number');
    assert.deepEqual(doc.kubernetes, {
      pod: { name: 'web-5f7', uid: 'uid-123' },
      namespace: 'shop',
      node: { name: 'node-3' },
      container: { name: 'web' },
    });
    assert.deepEqual(doc.fields, { team: 'checkout', env: 'test' });
    assert.equal(got[i]?.key?.toString(), log, 'key: the path');
    assert.equal(got[i]?.headers.cluster?.toString(), 'eu-1', 'static header');
    assert.equal(got[i]?.headers['logagent.offset']?.toString(), String(offset), 'offset header');
    offset += (lines[i] as Buffer).length;
  });
  assert.equal(docs[0]?.message, 'plain text line');
  assert.equal(docs[0]?.app, undefined, 'not JSON: stays a string, no parsed field');
  assert.equal(docs[1]?.message, '{"level":"warn","msg":"disk","message":"theirs"}', 'our message is the raw line');
  assert.deepEqual(docs[1]?.app, { level: 'warn', msg: 'disk', message: 'theirs' }, 'the line merged under app, never over ours');
  assert.equal(docs[2]?.message, 'bin\\xff\\xfe\\\\', 'invalid bytes escaped, backslash doubled');
  assert.equal(docs[2]?.message_escaped, true);
});

test('key: none spreads lines over partitions, pod keys them by POD_NAME, field:<name> by a field of the JSON line', async (t) => {
  const run = async (key: string, text: string, extra: Record<string, string> = {}): Promise<RawConsumed[]> => {
    const dir = tmpDir(t);
    const log = join(dir, 'app.log');
    const topic = uniqueTopic(`key-${key.replace(':', '-')}`);
    await createTopic(topic, 3);
    writeFileSync(log, text);
    const agent = startAgent(t, {
      LOGAGENT_TOPIC: topic,
      LOGAGENT_PATHS: log,
      LOGAGENT_START_AT: 'beginning',
      LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp'),
      LOGAGENT_KEY: key,
      KAFKA_PARTITIONER: key === 'none' ? 'round-robin' : 'hash',
      POD_NAME: 'api-1',
      ...extra,
    });
    await agentStarted(agent);
    const lines = text.split('\n').length - 1;
    const got = await consumeAllRaw(t, topic, { expected: lines });
    assert.equal(await agent.stop(), 0);
    return got;
  };
  const none = await run('none', Array.from({ length: 30 }, (_, i) => `l${i}\n`).join(''));
  assert.ok(none.every((m) => m.key === null));
  assert.equal(new Set(none.map((m) => m.partition)).size, 3, 'spread over the three partitions');
  const pod = await run('pod', 'a\nb\n');
  assert.deepEqual(
    pod.map((m) => m.key?.toString()),
    ['api-1', 'api-1'],
  );
  const field = await run('field:user', '{"user":"ann","n":1}\n{"user":"bob","n":2}\nnot json\n');
  assert.deepEqual(field.map((m) => [m.value?.toString(), m.key?.toString() ?? null]).sort(), [
    ['not json', null],
    ['{"user":"ann","n":1}', 'ann'],
    ['{"user":"bob","n":2}', 'bob'],
  ]);
});

/** A Java-style event: a timestamped first line and `frames` continuation lines. */
function event(n: number, frames: number): string {
  const head = `2026-12-02 10:00:00.${String(n % 1000).padStart(3, '0')} ERROR request ${n} failed\n`;
  let body = `java.lang.IllegalStateException: event ${n}\n`;
  for (let f = 0; f < frames; f++) body += `\tat com.example.Service.call${f}(Service.java:${n % 97})\n`;
  return head + body;
}

function single(n: number): string {
  return `2026-12-02 10:00:01.000 INFO single ${n}\n`;
}

/** The consumer-side recipe (docs/records.md): keep a record only if its offset is above the highest seen for its source. */
function deduplicate(messages: RawConsumed[]): RawConsumed[] {
  const highest = new Map<string, number>();
  const kept: RawConsumed[] = [];
  for (const m of messages) {
    const source = m.headers['logagent.source']?.toString() ?? '';
    const offset = Number(m.headers['logagent.offset']?.toString() ?? -1);
    if (offset <= (highest.get(source) ?? -1)) continue;
    highest.set(source, offset);
    kept.push(m);
  }
  return kept;
}

test(
  '10,000 multiline events among single lines, with SIGKILL restarts in between: every event arrives whole, none split; de-duplicated by source and offset, exactly once',
  { timeout: 600_000 },
  async (t) => {
    const dir = tmpDir(t);
    const log = join(dir, 'app.log');
    const topic = uniqueTopic('multiline');
    // One partition: the de-duplication recipe relies on each source's records arriving in offset order.
    await createTopic(topic, 1);
    writeFileSync(log, '');
    const env = {
      LOGAGENT_TOPIC: topic,
      LOGAGENT_PATHS: log,
      LOGAGENT_START_AT: 'beginning',
      LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp'),
      LOGAGENT_MULTILINE_START: '^\\d{4}-\\d{2}-\\d{2} ',
      LOGAGENT_MULTILINE_TIMEOUT_MS: '300',
      LOGAGENT_CHECKPOINT_INTERVAL_MS: '100',
    };
    let agent: AgentProcess = startAgent(t, env);
    await agentStarted(agent);
    const EVENTS = 10_000;
    const expected: string[] = [];
    let singles = 0;
    let kills = 0;
    for (let n = 0; n < EVENTS; n += 500) {
      let chunk = '';
      for (let k = n; k < n + 500; k++) {
        const e = event(k, 1 + (k % 12));
        chunk += e;
        expected.push(e.slice(0, -1));
        if (k % 10 === 0) {
          const s = single(singles++);
          chunk += s;
          expected.push(s.slice(0, -1));
        }
      }
      // Written in pieces that cut events mid-way, as a real writer's flushes do.
      const cut = Math.floor(chunk.length / 3);
      appendFileSync(log, chunk.slice(0, cut));
      await sleep(20);
      appendFileSync(log, chunk.slice(cut));
      if (n % 2_500 === 1_500) {
        // Killed while shipping: some events acknowledged, some in flight, one being assembled.
        await sleep(300);
        agent.signal('SIGKILL');
        await agent.exited;
        kills++;
        agent = startAgent(t, env);
        await agentStarted(agent);
      }
    }
    const raw = await consumeAllRaw(t, topic, { expected: expected.length, timeoutMs: 300_000, settleMs: 2_000 });
    assert.equal(await agent.stop(), 0);
    const values = raw.map((m) => m.value?.toString() ?? '');
    const expectedSet = new Set(expected);
    const unexpected = values.filter((v) => !expectedSet.has(v));
    assert.deepEqual(unexpected.slice(0, 3), [], 'every record is a whole event or a whole single line: none split');
    const deduped = deduplicate(raw).map((m) => m.value?.toString() ?? '');
    t.diagnostic(
      `${expected.length} events and lines, ${kills} SIGKILLs: ${raw.length} records, ${raw.length - deduped.length} duplicates dropped by (source, offset)`,
    );
    assert.deepEqual(deduped, expected, 'after de-duplication: every event exactly once, in order');
  },
);

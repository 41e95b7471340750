// File tailing against a real broker and the real agent process: rename and
// copytruncate rotation, inode reuse, over-long lines, deletion with unread
// lines, partial lines, symlinks, binary bytes, excludes. Every test writes
// numbered lines and checks the consumed set exactly: what is missing and
// how often each line arrived.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  createReadStream,
  createWriteStream,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  mkdirSync,
  appendFileSync,
  existsSync,
} from 'node:fs';
import { truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import {
  ROOT,
  agentStarted,
  appendNumbered,
  asText,
  consumeAll,
  consumeAllRaw,
  kafkaClient,
  missing,
  startAgent,
  startConsumer,
  tally,
  tmpDir,
  uniqueTopic,
  waitFor,
  type AgentProcess,
  type Consumed,
  type LiveConsumer,
  type RawConsumed,
} from './helpers.ts';

const INODE_ATTEMPTS = 2_000;
const WRITER = join(ROOT, 'test', 'integration', 'writers', 'rename-rotating-writer.ts');

/** Env every test starts from: one input, its own topic and checkpoint directory. */
function agentEnv(topic: string, paths: string, checkpointDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { LOGAGENT_TOPIC: topic, LOGAGENT_PATHS: paths, LOGAGENT_CHECKPOINT_DIR: checkpointDir, ...extra };
}

/** Extra deliveries: arrivals beyond the first of each line. */
function duplicates(counts: Map<number, number>): number {
  let dup = 0;
  for (const c of counts.values()) dup += c - 1;
  return dup;
}

/** Lines in [from, to) that arrived more than once. */
function duplicated(counts: Map<number, number>, from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) if ((counts.get(i) ?? 0) > 1) out.push(i);
  return out;
}

function assertExactlyOnce(counts: Map<number, number>, from: number, to: number, what: string): void {
  assert.deepEqual(missing(counts, from, to).slice(0, 20), [], `${what}: missing lines (first 20)`);
  assert.deepEqual(duplicated(counts, from, to).slice(0, 20), [], `${what}: duplicated lines (first 20)`);
  assert.equal(counts.size, to - from, `${what}: no line numbers outside [${from}, ${to})`);
}

function texts(consumer: LiveConsumer): Consumed[] {
  return consumer.messages.map(asText);
}

/** A tally of a live consumer's numbered lines, updated incrementally (call it to refresh). */
function liveTally(consumer: LiveConsumer, prefix = 'line-'): () => Map<number, number> {
  const counts = new Map<number, number>();
  let scanned = 0;
  return () => {
    for (; scanned < consumer.messages.length; scanned++) {
      for (const [n, c] of tally([asText(consumer.messages[scanned] as RawConsumed)], prefix)) counts.set(n, (counts.get(n) ?? 0) + c);
    }
    return counts;
  };
}

/** Sorted numbers as compact ranges: "3-7,10". */
function ranges(nums: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < nums.length;) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === (nums[j] as number) + 1) j++;
    out.push(i === j ? `${nums[i]}` : `${nums[i]}-${nums[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** Waits until no message arrived for `quietMs` (stragglers and duplicates get their chance). */
async function settle(consumer: LiveConsumer, quietMs: number, timeoutMs = 60_000): Promise<void> {
  let count = -1;
  let since = Date.now();
  await waitFor(
    () => {
      if (consumer.messages.length !== count) {
        count = consumer.messages.length;
        since = Date.now();
      }
      return Date.now() - since >= quietMs;
    },
    timeoutMs,
    `no more messages for ${quietMs} ms`,
  );
}

function logsWith(agent: AgentProcess, msg: string): Array<Record<string, unknown>> {
  return agent.records().filter((r) => r.msg === msg);
}

test('rename rotation storm: 200,000 lines, renamed every 10,000 (keep 3), all arrive exactly once', async (t) => {
  const TOTAL = 200_000;
  const EVERY = 10_000;
  const dir = tmpDir(t);
  const topic = uniqueTopic('storm');
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const agent = startAgent(
    t,
    agentEnv(topic, log, tmpDir(t, 'logagent-cp-'), {
      LOGAGENT_START_AT: 'beginning',
      // The product default, not the harness's 200 ms: a new generation must
      // be found through the rotation of the old one, not by a fast rescan.
      LOGAGENT_SCAN_INTERVAL_MS: '1000',
    }),
  );
  await agentStarted(agent);
  // Warm-up: the topic exists and the producer is connected before the storm.
  appendFileSync(log, 'warmup\n');
  const consumer = await startConsumer(t, topic);
  await consumer.waitUntil((m) => m.length >= 1, 30_000, 'the warm-up line');

  const started = Date.now();
  // 500 lines per write, 25 ms apart: a rotation every ~0.5 s, while the
  // agent runs concurrently in its own process.
  const writer = spawn(process.execPath, [WRITER, dir, String(TOTAL), String(EVERY), '3', '500', '25'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (writer.exitCode === null && writer.signalCode === null) writer.kill('SIGKILL');
  });
  let out = '';
  writer.stdout.on('data', (d: Buffer) => (out += d.toString()));
  writer.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => writer.on('exit', resolve));
  assert.equal(code, 0, `writer failed: ${out}`);
  const summary = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { rotations: number; ms: number };
  assert.equal(summary.rotations, TOTAL / EVERY - 1);
  // What the writer left behind: the live file and exactly three rotated ones.
  assert.deepEqual(
    ['app.log', 'app.log.1', 'app.log.2', 'app.log.3', 'app.log.4'].map((f) => existsSync(join(dir, f))),
    [true, true, true, true, false],
  );

  const counted = liveTally(consumer);
  await consumer.waitUntil(() => counted().size === TOTAL, 60_000, 'all 200,000 lines').catch(() => undefined); // asserted below, with the missing ranges
  const shippedMs = Date.now() - started;
  await settle(consumer, 3_000);
  assert.equal(await agent.stop(), 0);
  const counts = counted();
  const rotationLogs = logsWith(agent, 'file rotated; reading it to its end');
  t.diagnostic(
    `writer ${summary.ms} ms, ${summary.rotations} rotations; shipped ${counts.size} lines after ${shippedMs} ms; ` +
      `duplicates ${duplicates(counts)}; agent saw ${rotationLogs.length} rotations`,
  );
  assert.equal(ranges(missing(counts, 0, TOTAL)), '', 'missing lines');
  assert.equal(duplicates(counts), 0, 'no restarts: no duplicates');
  assert.equal(consumer.messages.length, TOTAL + 1, 'nothing but the numbered lines and the warm-up line');
  assert.equal(logsWith(agent, 'giving up on rotated file').length, 0);
});

test('copytruncate: the only lines lost are ones appended between the copy and the truncate', async (t) => {
  const TOTAL = 40_000;
  const EVERY = 10_000;
  const BATCH = 20;
  const dir = tmpDir(t);
  const topic = uniqueTopic('copytrunc');
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const agent = startAgent(t, agentEnv(topic, log, tmpDir(t, 'logagent-cp-'), { LOGAGENT_START_AT: 'beginning' }));
  await agentStarted(agent);

  // The writer: BATCH lines per write, a write every ~1 ms. It pauses only
  // for the catch-up before each copy, never during the copy and the
  // truncate. `next` is the first line number not yet written.
  let next = 0;
  let paused = false;
  let ended = false;
  t.after(() => (ended = true)); // a failed test must not leave the writer running
  const writer = (async () => {
    while (next < TOTAL && !ended) {
      if (!paused) {
        const to = Math.min(next + BATCH, TOTAL);
        appendNumbered(log, next, to);
        next = to;
      }
      await sleep(1); // pacing: a writer that writes over time
    }
  })();
  const consumer = await startConsumer(t, topic);
  const counted = liveTally(consumer);

  const windows: Array<[number, number]> = [];
  const inWindow = (n: number): boolean => windows.some(([a, b]) => n >= a && n < b);
  /** Lines in [0, n) that did not arrive and were not written in a window. */
  const lostOutside = (n: number): number[] => missing(counted(), 0, n).filter((i) => !inWindow(i));
  for (let k = 1; k * EVERY < TOTAL; k++) {
    await waitFor(() => next >= k * EVERY, 60_000, `writer past line ${k * EVERY}`);
    // A loss-free starting point: the agent has shipped every line written
    // so far. Without it, lines the agent had not read yet when the copy
    // started would be lost too (copytruncate loses whatever is unread at
    // the truncate), and the window below would not be exact.
    paused = true;
    const w0 = next;
    await consumer
      .waitUntil(() => lostOutside(w0).length === 0, 30_000, `agent caught up to line ${w0}`)
      .catch((err: unknown) => {
        throw new Error(
          `${String(err)}; windows ${JSON.stringify(windows)}; missing outside them: ${lostOutside(w0).slice(0, 30).join(',')}`,
        );
      });
    // The writer resumes and keeps appending during the copy and the truncate.
    paused = false;
    // Copied like logrotate does it, a read/write loop (64 KiB at a time), while the writer appends.
    await pipeline(createReadStream(log, { highWaterMark: 64 * 1024 }), createWriteStream(`${log}.1`));
    await truncate(log, 0);
    // Any write issued before this point may have landed before the truncate.
    windows.push([w0, next]);
  }
  await writer;

  await consumer.waitUntil(() => lostOutside(TOTAL).length === 0, 60_000, 'every line outside the copy-truncate windows');
  await settle(consumer, 1_500);
  assert.equal(await agent.stop(), 0);

  const counts = tally(texts(consumer));
  const lost = missing(counts, 0, TOTAL);
  const windowSizes = windows.map(([a, b]) => b - a);
  t.diagnostic(
    `copy-truncate windows (lines written between copy start and truncate end): ${windowSizes.join(', ')}; ` +
      `lost ${lost.length} (${windows.map(([a, b]) => lost.filter((n) => n >= a && n < b).length).join(', ')} per window); ` +
      `duplicates ${duplicates(counts)}`,
  );
  assert.deepEqual(
    lost.filter((n) => !inWindow(n)),
    [],
    'missing ⊆ lines written between the copy and the truncate',
  );
  assert.equal(duplicates(counts), 0, 'no duplicates');
  assert.equal(consumer.messages.length, TOTAL - lost.length, 'nothing but the numbered lines');
  assert.equal(
    logsWith(agent, 'file truncated; reading it again from the start').length,
    windows.length,
    'every truncation seen and counted once',
  );
});

/**
 * Creates files in `dir` until one gets inode `ino` (the filesystem hands out
 * a freed inode again), returns its path, or undefined after `attempts`.
 * Candidates that miss are kept until the end so that each new one gets
 * another inode: ext4 hands out the lowest free inode of the directory's
 * group, and on a busy /tmp other freed inodes may come first.
 */
function createWithInode(dir: string, ino: number, attempts = INODE_ATTEMPTS): string | undefined {
  const misses: string[] = [];
  let hit: string | undefined;
  for (let i = 0; i < attempts && hit === undefined; i++) {
    const candidate = join(dir, `candidate-${i}`);
    writeFileSync(candidate, '', { flag: 'wx' });
    if (statSync(candidate).ino === ino) hit = candidate;
    else misses.push(candidate);
  }
  for (const m of misses) rmSync(m);
  return hit;
}

test('inode reuse while running: a new file at a freed inode is read from its first line', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('inode');
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const agent = startAgent(
    t,
    agentEnv(topic, log, tmpDir(t, 'logagent-cp-'), {
      LOGAGENT_START_AT: 'beginning',
      LOGAGENT_ROTATED_QUIET_MS: '300',
      LOGAGENT_LOG_LEVEL: 'debug', // for the 'file closed' record
      // No checkpoint writes during the test: each one creates a file, which
      // would take the inode freed by file A before our candidates can.
      LOGAGENT_CHECKPOINT_INTERVAL_MS: '600000',
    }),
  );
  await agentStarted(agent);
  appendNumbered(log, 0, 1_000, 'a-');
  const consumer = await startConsumer(t, topic);
  await consumer.waitUntil(() => tally(texts(consumer), 'a-').size === 1_000, 30_000, 'file A shipped');

  const st = statSync(log);
  const key = `${st.dev}:${st.ino}`;
  unlinkSync(log);
  // The inode is free only once the agent closed its descriptor.
  await agent.waitForLog((r) => r.msg === 'file closed' && r.identity === key);

  // File B: different content, more of it than A had (a stale checkpoint
  // offset would land inside it), at the same path and, if we can, inode.
  const candidate = createWithInode(dir, st.ino);
  if (candidate === undefined)
    t.diagnostic(`inode ${st.ino} was not reused within ${INODE_ATTEMPTS} attempts; testing a new inode at the same path`);
  else t.diagnostic(`inode ${st.ino} reused by ${candidate.slice(dir.length + 1)}`);
  const bPath = candidate ?? join(dir, 'candidate-b');
  appendNumbered(bPath, 0, 2_000, 'b-');
  renameSync(bPath, log);
  appendNumbered(log, 2_000, 3_000, 'b-');

  await consumer.waitUntil(() => tally(texts(consumer), 'b-').size === 3_000, 30_000, 'all of file B');
  await settle(consumer, 1_000);
  assert.equal(await agent.stop(), 0);
  const msgs = texts(consumer);
  assertExactlyOnce(tally(msgs, 'a-'), 0, 1_000, 'file A');
  assertExactlyOnce(tally(msgs, 'b-'), 0, 3_000, 'file B');
  assert.equal(msgs.length, 4_000);
  const openedAtPath = logsWith(agent, 'tailing file').filter((r) => r.file === log);
  assert.equal(openedAtPath.length, 2, 'file A, then file B');
  const opened = openedAtPath[1];
  assert.equal(opened?.offset, 0, 'file B starts at offset 0');
  assert.equal(opened?.action, 'start-over');
  if (candidate !== undefined) assert.equal(opened?.identity, key, 'file B really has the inode of file A');
});

test('inode reuse across a restart: a checkpointed inode now holding another file is read from 0', async (t) => {
  const dir = tmpDir(t);
  const cpDir = tmpDir(t, 'logagent-cp-');
  const topic = uniqueTopic('inode-restart');
  const log = join(dir, 'app.log');
  appendNumbered(log, 0, 1_000, 'a-');
  const env = agentEnv(topic, log, cpDir, { LOGAGENT_START_AT: 'beginning' });
  const first = startAgent(t, env);
  await agentStarted(first);
  const consumer = await startConsumer(t, topic);
  await consumer.waitUntil(() => tally(texts(consumer), 'a-').size === 1_000, 30_000, 'file A shipped');
  assert.equal(await first.stop(), 0);

  const st = statSync(log);
  const key = `${st.dev}:${st.ino}`;
  const saved = JSON.parse(readFileSync(join(cpDir, 'checkpoints.json'), 'utf8')) as { files: Record<string, { offset: number }> };
  assert.equal(saved.files[key]?.offset, st.size, 'checkpoint for inode X at the end of file A');

  unlinkSync(log);
  const candidate = createWithInode(dir, st.ino);
  if (candidate === undefined)
    t.diagnostic(`inode ${st.ino} was not reused within ${INODE_ATTEMPTS} attempts; testing a new inode at the same path`);
  else t.diagnostic(`inode ${st.ino} reused by ${candidate.slice(dir.length + 1)}`);
  const bPath = candidate ?? join(dir, 'candidate-b');
  appendNumbered(bPath, 0, 2_000, 'b-');
  renameSync(bPath, log);

  // With the inode reused, start-at=end would skip the file if the agent took
  // it for new-without-checkpoint, and resume mid-file if it trusted the
  // stale checkpoint: only recognising the reuse reads it from 0.
  const second = startAgent(t, { ...env, LOGAGENT_START_AT: candidate === undefined ? 'beginning' : 'end' });
  await agentStarted(second);
  appendNumbered(log, 2_000, 2_500, 'b-');
  await consumer.waitUntil(() => tally(texts(consumer), 'b-').size === 2_500, 30_000, 'all of file B');
  await settle(consumer, 1_000);
  assert.equal(await second.stop(), 0);

  const msgs = texts(consumer);
  assertExactlyOnce(tally(msgs, 'a-'), 0, 1_000, 'file A (clean SIGTERM: no duplicates)');
  assertExactlyOnce(tally(msgs, 'b-'), 0, 2_500, 'file B');
  assert.equal(msgs.length, 3_500);
  const opened = logsWith(second, 'tailing file').find((r) => r.file === log);
  assert.equal(opened?.offset, 0);
  if (candidate !== undefined) {
    assert.equal(opened?.identity, key);
    assert.equal(opened?.reason, 'different file at the checkpointed inode');
  }
});

test('a 10 MiB line with LOGAGENT_MAX_LINE_BYTES=1 MiB is shipped truncated; the lines around it arrive intact', async (t) => {
  const MiB = 1024 * 1024;
  const dir = tmpDir(t);
  const topic = uniqueTopic('longline');
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const agent = startAgent(
    t,
    agentEnv(topic, log, tmpDir(t, 'logagent-cp-'), { LOGAGENT_START_AT: 'beginning', LOGAGENT_MAX_LINE_BYTES: String(MiB) }),
  );
  await agentStarted(agent);

  // 10 MiB of a position-dependent pattern, so a kept prefix is checkable byte for byte.
  const big = Buffer.alloc(10 * MiB);
  for (let i = 0; i < big.length; i++) big[i] = 0x41 + ((i * 7 + (i >> 10)) % 26);
  big.write('big-', 0);
  appendNumbered(log, 0, 100);
  appendFileSync(log, Buffer.concat([big, Buffer.from('\n')]));
  appendNumbered(log, 100, 200);

  const got = await consumeAllRaw(t, topic, { expected: 201, timeoutMs: 60_000 });
  assert.equal(await agent.stop(), 0);
  const text = got.map(asText);
  assertExactlyOnce(tally(text), 0, 200, 'lines around the long one');
  const bigs = got.filter((m) => m.value?.subarray(0, 4).toString() === 'big-');
  assert.equal(bigs.length, 1, 'the long line arrives once');
  assert.equal(got.length, 201);
  const value = bigs[0]?.value ?? Buffer.alloc(0);
  assert.equal(bigs[0]?.headers['logagent.truncated']?.toString(), 'true');
  assert.ok(value.equals(big.subarray(0, value.length)), 'the kept bytes are the start of the line');
  // In file order: the long line sits between line-99 and line-100.
  assert.equal(
    text.findIndex((m) => m.value.startsWith('big-')),
    100,
  );

  assert.equal(logsWith(agent, 'line longer than LOGAGENT_MAX_LINE_BYTES; shipped truncated').length, 1);
  // A 1 MiB value plus key, header and batch overhead exceeds the broker's
  // default message.max.bytes (1048588): the broker rejects it and the sink
  // cuts it to 3/4 and counts that. Assert exactly that.
  const rejected = logsWith(agent, 'kafka rejected a message as too large; truncating it');
  t.diagnostic(`shipped ${value.length} of ${big.length} bytes; broker rejections: ${rejected.length}`);
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0]?.bytes, MiB);
  assert.equal(value.length, Math.floor(MiB * 0.75));
});

test('a file deleted while lines remain unread is still read to its end', async (t) => {
  const TOTAL = 50_000;
  const dir = tmpDir(t);
  const topic = uniqueTopic('deleted');
  const log = join(dir, 'app.log');
  appendNumbered(log, 0, TOTAL);
  const size = statSync(log).size;
  const agent = startAgent(
    t,
    agentEnv(topic, log, tmpDir(t, 'logagent-cp-'), {
      LOGAGENT_START_AT: 'beginning',
      LOGAGENT_INFLIGHT_MAX_BYTES: '65536',
      LOGAGENT_MAX_LINE_BYTES: '65536', // may not exceed the in-flight budget
      LOGAGENT_READ_CHUNK_BYTES: '4096',
      LOGAGENT_ROTATED_QUIET_MS: '300',
    }),
  );
  await agent.waitForLog((r) => r.msg === 'tailing file' && r.file === log);
  unlinkSync(log);

  // Proof that lines were unread at the deletion: the reader holds at most
  // the in-flight budget (+ one chunk) beyond what Kafka has acknowledged.
  const admin = kafkaClient().admin();
  await admin.connect();
  let shippedAtDelete = 0;
  try {
    if ((await admin.listTopics()).includes(topic)) {
      shippedAtDelete = (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
    }
  } finally {
    await admin.disconnect();
  }
  // Lines are at most 11 bytes ('line-NNNNN\n'); the budget counts line
  // bytes without the newline, so 1.2 x (budget + chunk) bounds what is in flight.
  const maxReadBytes = shippedAtDelete * 11 + Math.ceil((65_536 + 4_096) * 1.2);
  t.diagnostic(`at the deletion Kafka held ${shippedAtDelete} of ${TOTAL} lines; at most ${maxReadBytes} of ${size} bytes read`);
  assert.ok(maxReadBytes < size, 'the file was deleted with lines still unread');

  const got = await consumeAll(topic, { expected: TOTAL, timeoutMs: 60_000 });
  const counts = tally(got);
  assertExactlyOnce(counts, 0, TOTAL, 'deleted file');
  assert.equal(got.length, TOTAL);
  await agent.waitForLog((r) => r.msg === 'file rotated; reading it to its end' && r.how === 'deleted');
  assert.equal(await agent.stop(), 0);
  assert.equal(logsWith(agent, 'giving up on rotated file').length, 0);
});

test('partial last line: shipped after LOGAGENT_PARTIAL_LINE_TIMEOUT_MS once the file is quiet', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('partial');
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const agent = startAgent(
    t,
    agentEnv(topic, log, tmpDir(t, 'logagent-cp-'), { LOGAGENT_START_AT: 'beginning', LOGAGENT_PARTIAL_LINE_TIMEOUT_MS: '500' }),
  );
  await agentStarted(agent);
  appendNumbered(log, 0, 10);
  const writtenAt = Date.now();
  appendFileSync(log, 'line-10');
  const consumer = await startConsumer(t, topic);
  await consumer.waitUntil(() => consumer.messages.length >= 11, 15_000, 'the partial line');
  await settle(consumer, 1_000);
  assert.equal(await agent.stop(), 0);
  const msgs = texts(consumer);
  assertExactlyOnce(tally(msgs), 0, 11, 'lines with the partial one last');
  assert.equal(msgs.length, 11);
  const partial = consumer.messages.find((m) => m.value?.toString() === 'line-10');
  const waited = (partial?.timestamp ?? 0) - writtenAt;
  t.diagnostic(`partial line produced ${waited} ms after it was written`);
  assert.ok(waited >= 500, `shipped only after 500 ms of quiet (waited ${waited} ms)`);
});

test('partial last line: a line split across two writes arrives whole; an unfinished line is shipped at SIGTERM', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('partial-split');
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const agent = startAgent(
    t,
    agentEnv(topic, log, tmpDir(t, 'logagent-cp-'), { LOGAGENT_START_AT: 'beginning', LOGAGENT_PARTIAL_LINE_TIMEOUT_MS: '60000' }),
  );
  await agentStarted(agent);
  // One write: lines 0-4 and the first half of line 5.
  appendFileSync(log, 'line-0\nline-1\nline-2\nline-3\nline-4\nline-');
  const consumer = await startConsumer(t, topic);
  // Lines 0-4 shipped means the agent read that write, half line included.
  await consumer.waitUntil(() => consumer.messages.length >= 5, 15_000, 'lines 0-4');
  appendFileSync(log, '5\nline-6\n');
  await consumer.waitUntil(() => consumer.messages.length >= 7, 15_000, 'lines 5-6');
  // An unfinished line, then SIGTERM at once: the shutdown ships it.
  appendFileSync(log, 'line-7');
  assert.equal(await agent.stop(), 0);
  await consumer.waitUntil(() => consumer.messages.length >= 8, 15_000, 'the unfinished line');
  await settle(consumer, 1_000);
  const msgs = texts(consumer);
  assert.deepEqual(
    msgs.map((m) => m.value),
    Array.from({ length: 8 }, (_, i) => `line-${i}`),
  );
  assertExactlyOnce(tally(msgs), 0, 8, 'split and unfinished lines');
});

test('a symlinked log file matched by the glob is followed', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('symlink');
  mkdirSync(join(dir, 'real'));
  mkdirSync(join(dir, 'logs'));
  const target = join(dir, 'real', 'app-0001.log');
  const link = join(dir, 'logs', 'app.log');
  appendNumbered(target, 0, 500);
  symlinkSync(target, link);
  const agent = startAgent(t, agentEnv(topic, join(dir, 'logs', '*.log'), tmpDir(t, 'logagent-cp-'), { LOGAGENT_START_AT: 'beginning' }));
  await agentStarted(agent);
  const consumer = await startConsumer(t, topic);
  await consumer.waitUntil(() => consumer.messages.length >= 500, 15_000, 'lines written before the start');
  // Growth of the target (outside the watched directory) is followed too.
  appendNumbered(target, 500, 1_000);
  await consumer.waitUntil(() => consumer.messages.length >= 1_000, 15_000, 'lines appended after the start');
  await settle(consumer, 1_000);
  assert.equal(await agent.stop(), 0);
  const msgs = texts(consumer);
  assertExactlyOnce(tally(msgs), 0, 1_000, 'symlinked file');
  assert.equal(msgs.length, 1_000);
  assert.ok(
    msgs.every((m) => m.key === link),
    'keyed by the path that matched',
  );
});

test('invalid UTF-8 and binary bytes pass through byte-identical', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('binary');
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  // Small reads: long binary lines are assembled from several chunks.
  const agent = startAgent(
    t,
    agentEnv(topic, log, tmpDir(t, 'logagent-cp-'), { LOGAGENT_START_AT: 'beginning', LOGAGENT_READ_CHUNK_BYTES: '4096' }),
  );
  await agentStarted(agent);

  const special = [
    [0xff, 0xfe, 0xfd], // never valid in UTF-8
    [0xc0, 0x80], // overlong NUL
    [0xed, 0xa0, 0x80], // UTF-16 surrogate
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    [0x80, 0xbf], // lone continuation bytes
    [0xe2, 0x82], // truncated sequence at the end of the line
    [0x00, 0x00, 0x01], // NUL bytes
    [0xef, 0xbb, 0xbf, 0x68, 0x69], // BOM + "hi"
    [0xf0, 0x9f, 0x98, 0x80], // valid 😀
    [0x61, 0x0d, 0x62], // CR inside a line
  ];
  // Deterministic pseudo-random bytes (no 0x0a; no 0x0d at the end, where it
  // would be the CR of a CRLF terminator and is removed by design).
  let seed = 0x9e3779b9;
  const rand = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) & 0xff;
  };
  const expected: Buffer[] = [];
  for (let i = 0; i < 300; i++) {
    const body =
      i < special.length
        ? Buffer.from(special[i] ?? [])
        : Buffer.from(Array.from({ length: i % 50 === 0 ? 10_000 : 1 + (i % 200) }, () => rand()).map((b) => (b === 0x0a ? 0x0b : b)));
    if (body.at(-1) === 0x0d) body[body.length - 1] = 0x0e;
    expected.push(Buffer.concat([Buffer.from(`bin-${i}-`), body]));
  }
  const all256 = Buffer.from(Array.from({ length: 256 }, (_, b) => b).filter((b) => b !== 0x0a));
  expected.push(Buffer.concat([Buffer.from('bin-300-'), all256]));

  appendNumbered(log, 0, 50);
  appendFileSync(log, Buffer.concat(expected.flatMap((b) => [b, Buffer.from('\n')])));
  appendNumbered(log, 50, 100);

  const got = await consumeAllRaw(t, topic, { expected: 100 + expected.length });
  assert.equal(await agent.stop(), 0);
  assertExactlyOnce(tally(got.map(asText)), 0, 100, 'text lines around the binary ones');
  const binary = got.filter((m) => m.value?.subarray(0, 4).toString() === 'bin-');
  assert.equal(binary.length, expected.length, 'every binary line once');
  binary.forEach((m, i) => assert.ok(m.value?.equals(expected[i] ?? Buffer.alloc(0)), `binary line ${i} byte-identical`));
  assert.equal(got.length, 100 + expected.length);
});

test('files matched by LOGAGENT_EXCLUDE are never read', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('exclude');
  appendNumbered(join(dir, 'app.log'), 0, 500);
  appendNumbered(join(dir, 'secret.log'), 0, 500, 'secret-');
  const agent = startAgent(
    t,
    agentEnv(topic, join(dir, '*.log'), tmpDir(t, 'logagent-cp-'), {
      LOGAGENT_START_AT: 'beginning',
      LOGAGENT_EXCLUDE: join(dir, 'secret*.log'),
    }),
  );
  await agentStarted(agent);
  const consumer = await startConsumer(t, topic);
  await consumer.waitUntil(() => consumer.messages.length >= 500, 15_000, 'app.log');
  // Files appearing while the agent runs: an excluded one, then an included
  // one; once the later one arrived, the scan that found it saw the excluded one.
  appendNumbered(join(dir, 'secret-2.log'), 0, 500, 'secret-');
  appendNumbered(join(dir, 'app.log'), 500, 1_000);
  appendNumbered(join(dir, 'zz-late.log'), 1_000, 1_500);
  await consumer.waitUntil(() => consumer.messages.length >= 1_500, 15_000, 'app.log and zz-late.log');
  await settle(consumer, 1_500);
  assert.equal(await agent.stop(), 0);
  const msgs = texts(consumer);
  assertExactlyOnce(tally(msgs), 0, 1_500, 'included files');
  assert.equal(tally(msgs, 'secret-').size, 0, 'no line of an excluded file');
  assert.equal(msgs.length, 1_500);
  const opened = logsWith(agent, 'tailing file').map((r) => r.file);
  assert.deepEqual(opened.sort(), [join(dir, 'app.log'), join(dir, 'zz-late.log')]);
});

test('a FIFO and links to devices beside the logs are skipped: the agent starts, ships the regular files and stops on SIGTERM', async (t) => {
  const dir = tmpDir(t);
  const topic = uniqueTopic('fifo');
  appendNumbered(join(dir, 'a.log'), 0, 100);
  execFileSync('mkfifo', [join(dir, 'pipe.log')]);
  // nginx links its access.log to /dev/stdout; /dev/zero never ends.
  symlinkSync('/dev/stdout', join(dir, 'access.log'));
  symlinkSync('/dev/zero', join(dir, 'zero.log'));
  appendNumbered(join(dir, 'b.log'), 100, 200);
  const agent = startAgent(t, agentEnv(topic, join(dir, '*.log'), tmpDir(t, 'logagent-cp-'), { LOGAGENT_START_AT: 'beginning' }));
  await agentStarted(agent);
  const got = await consumeAll(topic, { expected: 200 });
  assertExactlyOnce(tally(got), 0, 200, 'regular files');
  const skipped = logsWith(agent, 'matched path is not a regular file; skipped (never opened)').map(
    (r) => `${String(r.kind)}:${String(r.file)}`,
  );
  assert.deepEqual(
    skipped.sort(),
    [`character-device:${join(dir, 'zero.log')}`, `fifo:${join(dir, 'pipe.log')}`, expect_stdout(dir)].sort(),
  );
  const stoppedAt = Date.now();
  assert.equal(await agent.stop(), 0);
  assert.ok(Date.now() - stoppedAt < 10_000, 'SIGTERM is handled: nothing is stuck on the FIFO');
});

/** What /dev/stdout of the agent is here: the socket pair node:child_process gives it (in a container it is a pipe: a FIFO). */
function expect_stdout(dir: string): string {
  return `socket:${join(dir, 'access.log')}`;
}

test(
  'SIGKILL right after a rename rotation, glob on the live name only: after a restart the renamed file is finished, no line is lost',
  { timeout: 300_000 },
  async (t) => {
    const dir = tmpDir(t);
    const cp = tmpDir(t, 'logagent-cp-');
    const topic = uniqueTopic('crashrot');
    const log = join(dir, 'app.log');
    writeFileSync(log, '');
    // The classic agent's configuration: the live file's name, nothing else.
    const env = agentEnv(topic, log, cp, {
      LOGAGENT_START_AT: 'beginning',
      // A small budget, so that much of each burst is still unread at the kill.
      LOGAGENT_INFLIGHT_MAX_BYTES: String(64 * 1024),
      LOGAGENT_MAX_LINE_BYTES: String(16 * 1024),
    });
    let agent = startAgent(t, env);
    await agentStarted(agent);
    const BURST = 20_000;
    const ROUNDS = 5;
    let next = 0;
    let recovered = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      appendNumbered(log, next, next + BURST);
      next += BURST;
      await sleep(20);
      renameSync(log, `${log}.${round}`);
      writeFileSync(log, '');
      agent.signal('SIGKILL');
      await agent.exited;
      await sleep(1_000);
      agent = startAgent(t, env);
      await agentStarted(agent);
      recovered += logsWith(agent, 'found an unfinished file renamed while the agent was stopped; reading it to its end').length;
    }
    appendNumbered(log, next, next + 1_000);
    next += 1_000;
    const got = await consumeAll(topic, { expected: next, timeoutMs: 120_000 });
    assert.equal(await agent.stop(), 0);
    const counts = tally(got);
    t.diagnostic(
      `${ROUNDS} kills right after a rotation; renamed files found again at restart: ${recovered}; duplicates ${duplicates(counts)}`,
    );
    assert.equal(ranges(missing(counts, 0, next)), '', 'missing lines');
    assert.ok(recovered >= 1, 'at least one restart found a renamed, unfinished file');
  },
);

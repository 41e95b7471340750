// Read buffers are reused once every batch viewing them is acknowledged. A
// buffer handed back too early is read into again while a batch still views
// it, and that batch ships another part of the file: these tests take each
// batch's records at the moment it is acknowledged (when the sink has
// finished with them) and compare them with the file, for every route shape.

import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { InputConfig } from '../../../src/config/config.ts';
import { ReadBufferPool } from '../../../src/input/read-buffers.ts';
import type { LineBatch } from '../../../src/sink/line-batch.ts';
import { FakeSink } from '../fake-sink.ts';
import { startInput, tempDir } from './setup.ts';
import { waitUntil } from '../wait.ts';

/** Copies each batch's records when it is acknowledged; acknowledgements come out of order. */
class SnapshotSink extends FakeSink {
  readonly shipped: string[] = [];
  constructor() {
    super({ maxAckDelayMs: 8 });
  }
  override ack(batch: LineBatch): void {
    if (this.unacked.has(batch)) for (let i = 0; i < batch.count; i++) this.shipped.push(batch.value(i).toString('latin1'));
    super.ack(batch);
  }
}

const LINES = 400;
/** Lines of 1,200-2,700 bytes read 4,096 at a time: many reads hold one whole line, many batches one record. */
function line(i: number): string {
  const body = String.fromCharCode(97 + (i % 26)).repeat(1_200 + ((i * 397) % 1_500));
  return JSON.stringify({ n: i, k: `key-${i % 7}`, body });
}

async function shipAll(t: TestContext, input: Omit<Partial<InputConfig>, 'paths'>): Promise<string[]> {
  const dir = tempDir(t, 'logagent-bufs-');
  const path = join(dir, 'app.log');
  writeFileSync(path, Array.from({ length: LINES }, (_, i) => line(i) + '\n').join(''));
  const sink = new SnapshotSink();
  await startInput(t, dir, {
    input: { paths: [path], ...input },
    reader: { maxLineBytes: 10_000, readChunkBytes: 4096 },
    budgetBytes: 1 << 20, // room for ~10 reads ahead of the acknowledgements
    sink,
  });
  assert.ok(
    await waitUntil(() => sink.received.length > 0 && sink.unacked.size === 0 && sink.shipped.length >= LINES, 10_000),
    'every line acknowledged',
  );
  return sink.shipped;
}

const expected = Array.from({ length: LINES }, (_, i) => line(i));

/** Batches are acknowledged out of order: compare as sets, naming the first damaged line. */
function assertIntact(shipped: string[]): void {
  const want = new Set(expected);
  const damaged = shipped.filter((v) => !want.has(v));
  assert.equal(damaged.length, 0, `${damaged.length} records differ from the file, first: ${damaged[0]?.slice(0, 60)}`);
  assert.equal(new Set(shipped).size, LINES, 'every line once');
  assert.equal(shipped.length, LINES);
}

test('raw lines (views into the read buffer) are intact when acknowledged', async (t) => {
  assertIntact(await shipAll(t, {}));
});

test('raw lines with a key per record (encoded path) are intact when acknowledged', async (t) => {
  assertIntact(await shipAll(t, { key: 'field:k' }));
});

test('raw lines parsed as JSON are intact when acknowledged', async (t) => {
  assertIntact(await shipAll(t, { parse: 'json' }));
});

test('JSON envelopes carry the right message when acknowledged', async (t) => {
  const shipped = await shipAll(t, { format: 'json' });
  assertIntact(shipped.map((v) => (JSON.parse(v) as { message: string }).message));
});

test("an unfinished line is kept in memory of its own between reads: another file's read cannot overwrite it", async (t) => {
  const dir = tempDir(t, 'logagent-bufs-');
  const a = join(dir, 'a.log');
  const b = join(dir, 'b.log');
  writeFileSync(a, '');
  writeFileSync(b, '');
  const sink = new FakeSink({ maxAckDelayMs: 1 });
  const { registry } = await startInput(t, dir, {
    input: { paths: [join(dir, '*.log')] },
    reader: { maxLineBytes: 10_000, readChunkBytes: 4096 },
    budgetBytes: 1 << 20,
    sink,
  });
  const offsetOf = (path: string) => registry.openReaders.find((r) => r.path === path)?.readOffset ?? -1;
  assert.ok(await waitUntil(() => registry.openCount === 2, 2_000), 'both files open');
  for (let round = 0; round < 20; round++) {
    // a: an unfinished line, read and left pending (its read buffer goes back to the pool).
    appendFileSync(a, 'A'.repeat(3_000));
    assert.ok(await waitUntil(() => offsetOf(a) === (round + 1) * 3_001 - 1, 2_000), 'a read');
    // b: lines read into a buffer of the same size class.
    appendFileSync(b, ('B'.repeat(999) + '\n').repeat(3));
    assert.ok(await waitUntil(() => offsetOf(b) === (round + 1) * 3_000, 2_000), 'b read');
    appendFileSync(a, '\n');
  }
  assert.ok(await waitUntil(() => sink.values().length === 20 + 60, 5_000), 'every line sent');
  const fromA = sink.values().filter((v) => !v.startsWith('B'));
  assert.equal(fromA.length, 20);
  for (const v of fromA) assert.equal(v, 'A'.repeat(3_000), 'a line of a is whole');
});

test('the pool hands out buffers by size class, reuses released ones, and keeps a few per class', () => {
  const pool = new ReadBufferPool(1024, 2);
  const tiny = pool.take(20);
  assert.equal(tiny.index, undefined, 'a read under a thirty-second of a chunk gets a buffer of its own');
  assert.equal(tiny.buffer.length, 20);
  const big = pool.take(2000);
  assert.equal(big.index, undefined, 'so does one larger than a chunk (a long carried line)');
  assert.equal(pool.take(1024).buffer.length, 1024);
  assert.equal(pool.take(600).buffer.length, 1024);
  assert.equal(pool.take(512).buffer.length, 512);
  assert.equal(pool.take(100).buffer.length, 128);
  assert.equal(pool.take(40).buffer.length, 64, 'the smallest class is a sixteenth of a chunk');

  const a = pool.take(1024);
  const b = pool.take(1024);
  const c = pool.take(1024);
  a.retain(); // a batch views a
  a.release();
  assert.equal(pool.pooled, 0, 'a buffer a batch still views is not reused');
  a.release();
  b.release();
  c.release();
  assert.equal(pool.pooled, 2, 'capped per class');
  const again = pool.take(1000);
  assert.ok(again.buffer === b.buffer || again.buffer === a.buffer, 'a released buffer is reused');
  assert.equal(again.viewers, 1);
  assert.throws(() => {
    again.release();
    again.release();
  }, /released more often than retained/);
});

// Rotated and deleted files are held until their lines are acknowledged, but
// not without bound: with Kafka acknowledging nothing, a deleted file is
// given up after rotated.maxHoldMs, and deleted files beyond
// rotated.maxHoldBytes in total are given up oldest first; both are counted.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import pino from 'pino';
import { InflightBudget } from '../../../src/budget.ts';
import { CheckpointStore } from '../../../src/checkpoint/store.ts';
import type { RotatedConfig } from '../../../src/config/config.ts';
import { FileInput } from '../../../src/input/file-input.ts';
import type { FileReader } from '../../../src/input/file-reader.ts';
import { Metrics } from '../../../src/metrics.ts';
import { FakeSink } from '../fake-sink.ts';
import { waitUntil } from '../wait.ts';

async function setup(t: TestContext, files: string[], rotated: RotatedConfig) {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-hold-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const paths = files.map((name) => join(dir, name));
  for (const p of paths) writeFileSync(p, 'x'.repeat(99) + '\n'.repeat(1) + 'y'.repeat(9_899) + '\n'); // 10,000 bytes
  const sink = new FakeSink();
  sink.paused = true; // Kafka acknowledges nothing
  const metrics = new Metrics();
  const logger = pino({ level: 'silent' });
  const store = new CheckpointStore({ dir: join(dir, 'cp'), logger });
  await store.load();
  const input = new FileInput({
    input: { id: 'hold', topic: 't', paths: [join(dir, '*.log')], exclude: [], startAt: 'beginning' },
    reader: { maxLineBytes: 10_000, readChunkBytes: 100, pollIntervalMs: 5, partialLineTimeoutMs: 60_000 },
    rotated,
    scanIntervalMs: 10,
    budget: new InflightBudget(100), // spent by the first line: every reader then waits
    sink,
    store,
    metrics,
    logger,
    claims: new Map<string, FileReader>(),
    useEvents: false,
  });
  await input.start();
  t.after(() => input.close());
  return { paths, input, metrics, sink };
}

test('a deleted file whose lines Kafka never acknowledges is given up after the hold time, and counted', async (t) => {
  const { paths, input, metrics } = await setup(t, ['a.log'], { quietMs: 10, maxHoldMs: 300, maxHoldBytes: 1 << 30 });
  assert.ok(await waitUntil(() => input.openReaders.length === 1, 2_000), 'file opened');
  unlinkSync(paths[0] as string);
  const deletedAt = Date.now();
  assert.ok(await waitUntil(() => input.openReaders.length === 0, 5_000), 'file given up');
  assert.ok(Date.now() - deletedAt >= 300, 'not before the hold time');
  assert.equal(metrics.filesClosed.get({ reason: 'abandoned' }), 1);
  assert.equal(metrics.abandonedBytes.get(), 10_000, 'nothing was acknowledged: the whole file is counted');
});

test('deleted files beyond the byte cap are given up oldest first', async (t) => {
  const { paths, input, metrics } = await setup(t, ['a.log', 'b.log', 'c.log'], { quietMs: 10, maxHoldMs: 600_000, maxHoldBytes: 25_000 });
  assert.ok(await waitUntil(() => input.openReaders.length === 3, 2_000), 'files opened');
  for (const p of paths) {
    unlinkSync(p);
    await new Promise((r) => setTimeout(r, 40)); // distinct deletion times
  }
  assert.ok(await waitUntil(() => input.openReaders.length === 2, 5_000), 'one file given up');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(input.openReaders.length, 2, '20,000 bytes held is under the 25,000 cap');
  assert.deepEqual(input.openReaders.map((r) => r.path).sort(), [paths[1], paths[2]], 'the oldest deletion went first');
  assert.equal(metrics.abandonedBytes.get(), 10_000);
});

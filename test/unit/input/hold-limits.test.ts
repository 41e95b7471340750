// Rotated and deleted files are held until their lines are acknowledged, but
// not without bound: with Kafka acknowledging nothing, a deleted file is
// given up after rotated.maxHoldMs, and deleted files beyond
// rotated.maxHoldBytes in total are given up oldest first; both are counted.

import assert from 'node:assert/strict';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { RotatedConfig } from '../../../src/config/config.ts';
import { FakeSink } from '../fake-sink.ts';
import { startInput, tempDir } from './setup.ts';
import { waitUntil } from '../wait.ts';

async function setup(t: TestContext, files: string[], rotated: RotatedConfig) {
  const dir = tempDir(t, 'logagent-hold-');
  const paths = files.map((name) => join(dir, name));
  for (const p of paths) writeFileSync(p, 'x'.repeat(99) + '\n' + 'y'.repeat(9_899) + '\n'); // 10,000 bytes
  const sink = new FakeSink();
  sink.paused = true; // Kafka acknowledges nothing
  const s = await startInput(t, dir, {
    input: { paths: [join(dir, '*.log')] },
    reader: { maxLineBytes: 10_000, readChunkBytes: 100 },
    rotated,
    budgetBytes: 100, // spent by the first read: every reader then waits
    sink,
  });
  return { paths, ...s };
}

test('a deleted file whose lines Kafka never acknowledges is given up after the hold time, and counted', async (t) => {
  const { paths, registry, metrics } = await setup(t, ['a.log'], { quietMs: 10, maxHoldMs: 300, maxHoldBytes: 1 << 30 });
  assert.ok(await waitUntil(() => registry.openCount === 1, 2_000), 'file opened');
  unlinkSync(paths[0] as string);
  const deletedAt = Date.now();
  assert.ok(await waitUntil(() => registry.openCount === 0, 5_000), 'file given up');
  assert.ok(Date.now() - deletedAt >= 300, 'not before the hold time');
  assert.equal(await metrics.value(metrics.filesClosed, { reason: 'abandoned' }), 1);
  assert.equal(await metrics.value(metrics.abandonedBytes), 10_000, 'nothing was acknowledged: the whole file is counted');
});

test('deleted files beyond the byte cap are given up oldest first', async (t) => {
  const { paths, registry, metrics } = await setup(t, ['a.log', 'b.log', 'c.log'], {
    quietMs: 10,
    maxHoldMs: 600_000,
    maxHoldBytes: 25_000,
  });
  assert.ok(await waitUntil(() => registry.openCount === 3, 2_000), 'files opened');
  for (const p of paths) {
    unlinkSync(p);
    await new Promise((r) => setTimeout(r, 40)); // distinct deletion times
  }
  assert.ok(await waitUntil(() => registry.openCount === 2, 5_000), 'one file given up');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(registry.openCount, 2, '20,000 bytes held is under the 25,000 cap');
  assert.deepEqual(registry.openReaders.map((r) => r.path).sort(), [paths[1], paths[2]], 'the oldest deletion went first');
  assert.equal(await metrics.value(metrics.abandonedBytes), 10_000);
});

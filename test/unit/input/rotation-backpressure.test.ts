// Rename rotation while Kafka acknowledges nothing (a broker outage): the
// reader of the old file waits on the in-flight budget and does not poll, so
// it cannot notice the rename. The new file at the path must still be opened
// by the periodic scan; otherwise the next rotation renames it out of the
// glob before it was ever opened, and its lines are lost.

import assert from 'node:assert/strict';
import { renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeSink } from '../fake-sink.ts';
import { startInput, tempDir } from './setup.ts';
import { waitUntil } from '../wait.ts';

function lines(gen: number, count: number): string {
  return Array.from({ length: count }, (_, i) => `g${gen}-${i}\n`).join('');
}

test('a new file at the path is opened while the reader of the rotated one waits on the budget', async (t) => {
  const dir = tempDir(t, 'logagent-rot-bp-');
  const log = join(dir, 'app.log');
  writeFileSync(log, lines(0, 200));
  const sink = new FakeSink({ maxAckDelayMs: 2 });
  sink.paused = true;
  const { registry } = await startInput(t, dir, {
    input: { paths: [log] },
    reader: { maxLineBytes: 64, readChunkBytes: 64 },
    budgetBytes: 256,
    sink,
  });
  // The first reader is now stuck on the spent budget.
  assert.ok(await waitUntil(() => sink.received.length > 0, 2_000));
  renameSync(log, `${log}.1`);
  writeFileSync(log, lines(1, 200));
  const gen1 = statSync(log, { bigint: true });
  const opened = await waitUntil(() => registry.openReaders.some((r) => r.identity === `${gen1.dev}:${gen1.ino}`), 1_000);
  // The next rotation moves generation 1 out of the glob.
  renameSync(`${log}.1`, `${log}.2`);
  renameSync(log, `${log}.1`);
  writeFileSync(log, lines(2, 200));
  assert.ok(opened, 'generation 1 opened within 100 scans although the old reader waits on the budget');

  sink.resume();
  await waitUntil(() => sink.values().length >= 600, 10_000);
  const got = sink.values();
  assert.equal(new Set(got).size, got.length, 'no line twice');
  for (const gen of [0, 1, 2]) {
    const missing = Array.from({ length: 200 }, (_, i) => `g${gen}-${i}`).filter((l) => !got.includes(l));
    assert.deepEqual(missing, [], `generation ${gen} complete`);
  }
});

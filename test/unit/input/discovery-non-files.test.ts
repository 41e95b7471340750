import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { InflightBudget } from '../../../src/budget.ts';
import { CheckpointStore } from '../../../src/checkpoint/store.ts';
import { FileInput } from '../../../src/input/file-input.ts';
import type { FileReader } from '../../../src/input/file-reader.ts';
import { Metrics } from '../../../src/metrics.ts';
import { FakeSink } from '../fake-sink.ts';
import { waitUntil } from '../wait.ts';

test('a glob that also matches a directory reads the files and quietly ignores the directory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-nonfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'archive'));
  writeFileSync(join(dir, 'app.log'), 'one\ntwo\n');
  const sink = new FakeSink();
  const metrics = new Metrics();
  const logger = pino({ level: 'silent' });
  const store = new CheckpointStore({ dir: join(dir, 'cp'), logger }); // a second directory the glob matches
  await store.load();
  const input = new FileInput({
    input: { id: 'nonfile', topic: 't', paths: [join(dir, '*')], exclude: [], startAt: 'beginning' },
    reader: { maxLineBytes: 100, readChunkBytes: 100, pollIntervalMs: 5, partialLineTimeoutMs: 60_000 },
    rotated: { quietMs: 10, maxHoldMs: 60_000, maxHoldBytes: 1 << 30 },
    scanIntervalMs: 10,
    budget: new InflightBudget(1000),
    sink,
    store,
    metrics,
    logger,
    claims: new Map<string, FileReader>(),
    useEvents: false,
  });
  await input.start();
  t.after(() => input.close());
  assert.ok(await waitUntil(() => sink.received.length === 2, 2_000), 'the file is read');
  await new Promise((r) => setTimeout(r, 100)); // several scans
  assert.deepEqual(sink.values(), ['one', 'two']);
  assert.deepEqual(
    input.openReaders.map((r) => r.path),
    [join(dir, 'app.log')],
  );
  assert.equal(metrics.fileErrors.get(), 0, 'no error counted for the directory');
  assert.equal(metrics.fileErrors.get({ kind: 'open' }), 0);
});

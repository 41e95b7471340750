// What a glob can match besides regular files. Directories are skipped
// quietly; FIFOs and devices (nginx links access.log to /dev/stdout) are
// never opened, since open() of a FIFO blocks until a writer comes and a
// read of /dev/zero never ends: either would tie up one of libuv's threads
// and hang the agent. They are logged once and counted. A symlink loop under
// a ** glob ends the walk instead of recursing forever.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startInput, tempDir } from './setup.ts';
import { waitUntil } from '../wait.ts';

test('a glob that also matches a directory reads the files and quietly ignores the directory', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'archive'));
  writeFileSync(join(dir, 'app.log'), 'one\ntwo\n');
  // The checkpoint directory (dir/cp) is a second directory the glob matches.
  const { sink, registry, metrics } = await startInput(t, dir, { input: { paths: [join(dir, '*')] } });
  assert.ok(await waitUntil(() => sink.values().length === 2, 2_000), 'the file is read');
  await new Promise((r) => setTimeout(r, 100)); // several scans
  assert.deepEqual(sink.values(), ['one', 'two']);
  assert.deepEqual(
    registry.openReaders.map((r) => r.path),
    [join(dir, 'app.log')],
  );
  assert.equal(await metrics.value(metrics.fileErrors, { kind: 'open' }), 0, 'no error counted for the directory');
});

test('a FIFO and a link to a character device beside log files are skipped, counted once, and never block reading', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'a.log'), 'a1\na2\n');
  execFileSync('mkfifo', [join(dir, 'pipe.log')]);
  symlinkSync('/dev/zero', join(dir, 'zero.log'));
  writeFileSync(join(dir, 'b.log'), 'b1\n');
  const { sink, metrics, registry } = await startInput(t, dir, { input: { paths: [join(dir, '*.log')] } });
  assert.ok(await waitUntil(() => sink.values().length === 3, 2_000), `both regular files are read (got ${sink.values().join(',')})`);
  await new Promise((r) => setTimeout(r, 100)); // several scans: still counted once
  assert.deepEqual(sink.values().sort(), ['a1', 'a2', 'b1']);
  assert.equal(await metrics.value(metrics.skippedFiles, { kind: 'fifo' }), 1);
  assert.equal(await metrics.value(metrics.skippedFiles, { kind: 'character-device' }), 1);
  assert.deepEqual(registry.openReaders.map((r) => r.path).sort(), [join(dir, 'a.log'), join(dir, 'b.log')]);
  // A line appended now is still read: nothing is stuck.
  writeFileSync(join(dir, 'b.log'), 'b1\nb2\n');
  assert.ok(await waitUntil(() => sink.values().includes('b2'), 2_000), 'reading goes on');
});

test('a symlink loop under a ** glob ends the walk; the real files are read once', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'logs', 'sub'), { recursive: true });
  writeFileSync(join(dir, 'logs', 'sub', 'deep.log'), 'deep\n');
  symlinkSync(join(dir, 'logs'), join(dir, 'logs', 'sub', 'loop'));
  const { sink } = await startInput(t, dir, { input: { paths: [join(dir, 'logs', '**', '*.log')] } });
  assert.ok(await waitUntil(() => sink.values().length >= 1, 2_000));
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(sink.values(), ['deep']);
});

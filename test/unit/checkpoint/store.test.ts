import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { CheckpointStore, CHECKPOINT_FILE } from '../../../src/checkpoint/store.ts';
import { Metrics } from '../../../src/metrics.ts';

const logger = pino({ level: 'silent' });
const entry = (offset: number, seenAt = 1000) => ({ path: '/logs/a.log', offset, head: { length: 4, sha256: 'ab' }, tail: 'eA==', seenAt });

test('entries survive a persist and a reload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-cp-'));
  const a = new CheckpointStore({ dir, logger });
  await a.load();
  a.set('1:2', entry(42));
  await a.persist();
  const b = new CheckpointStore({ dir, logger });
  await b.load();
  assert.deepEqual(b.get('1:2'), entry(42));
  assert.deepEqual(readdirSync(dir), [CHECKPOINT_FILE], 'no temp file is left behind');
});

test('an unchanged store is not written again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-cp-'));
  const metrics = new Metrics();
  const s = new CheckpointStore({ dir, logger, metrics });
  await s.load();
  s.set('1:2', entry(1));
  await s.persist();
  s.set('1:2', entry(1));
  await s.persist();
  assert.equal(await metrics.value(metrics.checkpointWrites), 1);
});

test('a corrupt checkpoint file is moved aside, counted, and the store starts empty', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-cp-'));
  writeFileSync(join(dir, CHECKPOINT_FILE), '{"version":1,"files":{"1:2":{"path":3}}}');
  const metrics = new Metrics();
  const s = new CheckpointStore({ dir, logger, metrics, now: () => 77 });
  await s.load();
  assert.equal(s.size, 0);
  assert.ok(existsSync(join(dir, `${CHECKPOINT_FILE}.corrupt-77`)));
  assert.ok(!existsSync(join(dir, CHECKPOINT_FILE)));
  assert.equal(await metrics.value(metrics.checkpointErrors, { kind: 'corrupt' }), 1);
});

test('garbage that is not JSON is handled the same way', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-cp-'));
  writeFileSync(join(dir, CHECKPOINT_FILE), '\0\0not json');
  const s = new CheckpointStore({ dir, logger, now: () => 5 });
  await s.load();
  assert.equal(s.size, 0);
  assert.equal(readFileSync(join(dir, `${CHECKPOINT_FILE}.corrupt-5`), 'latin1'), '\0\0not json');
});

test('prune removes entries not seen for the given age, but never live ones', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-cp-'));
  const s = new CheckpointStore({ dir, logger, now: () => 10_000 });
  s.set('1:1', entry(1, 1_000));
  s.set('1:2', entry(1, 1_000));
  s.set('1:3', entry(1, 9_500));
  assert.equal(s.prune(5_000, new Set(['1:2'])), 1);
  assert.deepEqual([...s.identities()].sort(), ['1:2', '1:3']);
});

test('a checkpoint path that cannot be read as a file (a directory) is moved aside too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-cp-'));
  mkdirSync(join(dir, CHECKPOINT_FILE));
  const s = new CheckpointStore({ dir, logger, now: () => 9 });
  await s.load();
  assert.equal(s.size, 0);
  assert.ok(existsSync(join(dir, `${CHECKPOINT_FILE}.corrupt-9`)));
  s.set('1:2', entry(3));
  await s.persist();
  assert.equal(JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8')).files['1:2'].offset, 3);
});

test('version 1 files (before input and finished existed) are read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-cp-'));
  writeFileSync(join(dir, CHECKPOINT_FILE), JSON.stringify({ version: 1, files: { '1:2': entry(7) } }));
  const s = new CheckpointStore({ dir, logger });
  await s.load();
  assert.deepEqual(s.get('1:2'), entry(7));
});

test('input and finished survive a persist and a reload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-cp-'));
  const a = new CheckpointStore({ dir, logger });
  await a.load();
  a.set('1:2', { ...entry(42), input: 'web', finished: true });
  await a.persist();
  const b = new CheckpointStore({ dir, logger });
  await b.load();
  assert.deepEqual(b.get('1:2'), { ...entry(42), input: 'web', finished: true });
});

test('a checkpoint directory that cannot be created fails load with the path and the OS error', async () => {
  await assert.rejects(new CheckpointStore({ dir: '/proc/nope', logger }).load(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'CHECKPOINT_DIR');
    assert.match(err.message, /\/proc\/nope/);
    assert.match(err.message, /ENOENT|EACCES|EROFS/);
    return true;
  });
});

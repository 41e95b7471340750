import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Config } from '../../../src/config/config.ts';
import { diffConfig, keepRestartOnly } from '../../../src/config/diff.ts';
import { loadConfig } from '../../../src/config/load.ts';

function config(text: string, env: Record<string, string> = {}): Config {
  return loadConfig({ env, source: { text, origin: 'test' } });
}

const base = 'inputs:\n  - name: a\n    paths: [/a.log]\n    topic: ta\n  - name: b\n    paths: [/b.log]\n    topic: tb\n';

test('inputs are matched by name: added, removed, changed and reordered are told apart', () => {
  const d = diffConfig(
    config(base),
    config('inputs:\n  - name: b\n    paths: [/b.log]\n    topic: tb2\n  - name: c\n    paths: [/c.log]\n    topic: tc\n'),
  );
  assert.deepEqual(d.inputsAdded, ['c']);
  assert.deepEqual(d.inputsRemoved, ['a']);
  assert.deepEqual(d.inputsChanged, ['b']);
  assert.equal(d.kafkaChanged, false);
  assert.deepEqual(d.restartRequired, []);
});

test('an unchanged configuration has no changes', () => {
  const d = diffConfig(config(base), config(base));
  assert.deepEqual(d.changed, []);
  assert.equal(d.inputsReordered, false);
});

test('keys a running agent cannot change are reported as needing a restart and keep their running value', () => {
  const prev = config(base);
  const next = config(`${base}http:\n  port: 9999\nkafka:\n  acks: "1"\ncheckpoint:\n  dir: /elsewhere\n`);
  const d = diffConfig(prev, next);
  assert.deepEqual(d.restartRequired.sort(), ['checkpoint.dir', 'http.port']);
  assert.equal(d.kafkaChanged, true);
  const applied = keepRestartOnly(prev, next);
  assert.equal(applied.http.port, prev.http.port);
  assert.equal(applied.checkpoint.dir, prev.checkpoint.dir);
  assert.equal(applied.kafka.acks, '1');
});

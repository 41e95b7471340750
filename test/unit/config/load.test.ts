import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/load.ts';
import { ConfigError } from '../../../src/errors.ts';

const minimal = { LOGAGENT_TOPIC: 'web_log', LOGAGENT_PATHS: '/logs/*.log' };

function problemsOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

test('env variables fill the config with their types', () => {
  const c = loadConfig({
    env: {
      ...minimal,
      KAFKA_BROKERS: 'a:1, b:2',
      KAFKA_ACKS: '1',
      KAFKA_PARTITION: '3',
      KAFKA_IDEMPOTENT: 'false',
      LOGAGENT_START_AT: 'beginning',
    },
  });
  assert.deepEqual(c.kafka.brokers, ['a:1', 'b:2']);
  assert.equal(c.kafka.acks, '1');
  assert.equal(c.kafka.partition, 3);
  assert.deepEqual(c.inputs[0]?.paths, ['/logs/*.log']);
  assert.equal(c.inputs[0]?.startAt, 'beginning');
  assert.ok(Object.isFrozen(c.kafka));
});

test('a bad KAFKA_ACKS names the variable, the value and the allowed values', () => {
  const msg = problemsOf(() => loadConfig({ env: { ...minimal, KAFKA_ACKS: 'most' } }));
  assert.match(msg, /KAFKA_ACKS/);
  assert.match(msg, /"most"/);
  assert.match(msg, /all.*1.*0/);
});

test('numbers and booleans are parsed strictly', () => {
  const msg = problemsOf(() => loadConfig({ env: { ...minimal, KAFKA_PARTITION: '1.5', KAFKA_TOPIC_CREATE: 'maybe' } }));
  assert.match(msg, /KAFKA_PARTITION.*whole number.*"1.5"/);
  assert.match(msg, /KAFKA_TOPIC_CREATE.*true or false.*"maybe"/);
});

test('topic and paths are required', () => {
  const msg = problemsOf(() => loadConfig({ env: {} }));
  assert.match(msg, /LOGAGENT_TOPIC.*required/);
  assert.match(msg, /LOGAGENT_PATHS.*required/);
});

test('a broker without a port is rejected', () => {
  assert.match(
    problemsOf(() => loadConfig({ env: { ...minimal, KAFKA_BROKERS: 'kafka' } })),
    /KAFKA_BROKERS.*host:port/,
  );
});

test('cross-key rules: a max line larger than the in-flight budget is rejected', () => {
  const msg = problemsOf(() => loadConfig({ env: { ...minimal, LOGAGENT_MAX_LINE_BYTES: '2000', LOGAGENT_INFLIGHT_MAX_BYTES: '1000' } }));
  assert.match(msg, /LOGAGENT_MAX_LINE_BYTES/);
});

test('a config file is read and the environment overrides it; unknown keys are errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-config-'));
  const file = join(dir, 'logagent.yaml');
  writeFileSync(file, 'topic: from_file\npaths: [/a.log]\nkafka:\n  acks: "1"\n');
  const c = loadConfig({ env: { LOGAGENT_TOPIC: 'from_env' }, file });
  assert.equal(c.inputs[0]?.topic, 'from_env');
  assert.equal(c.kafka.acks, '1');
  writeFileSync(file, 'topic: t\npaths: [/a.log]\nkafka:\n  akcs: all\n');
  assert.match(
    problemsOf(() => loadConfig({ env: {}, file })),
    /kafka\.akcs: unknown key/,
  );
});

test('process.env is not read behind the caller', () => {
  process.env.KAFKA_ACKS = 'bogus';
  try {
    assert.equal(loadConfig({ env: minimal }).kafka.acks, 'all');
  } finally {
    delete process.env.KAFKA_ACKS;
  }
});

// The command line as operators use it: `logagent consume` against the real
// broker, and the exit codes and messages of bad configuration and usage.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Message } from 'kafkajs';
import { brokers, createTopic, kafkaClient, runCli, tmpDir, uniqueTopic } from './helpers.ts';

/** Produces the messages (in order, one request) with a plain kafkajs producer. */
async function produce(t: TestContext, topic: string, messages: Message[]): Promise<void> {
  const producer = kafkaClient().producer({ allowAutoTopicCreation: false });
  t.after(() => producer.disconnect());
  await producer.connect();
  await producer.send({ topic, acks: -1, messages });
}

function stdoutLines(stdout: string): string[] {
  return stdout.split('\n').filter((line) => line !== '');
}

/** Env for commands that read the configuration: nothing from the developer's shell, no HTTP port, a private checkpoint dir. */
function configEnv(t: TestContext, env: Record<string, string>): Record<string, string> {
  const dir = tmpDir(t);
  return {
    KAFKA_BROKERS: brokers(),
    LOGAGENT_HTTP_PORT: '0',
    LOGAGENT_CHECKPOINT_DIR: join(dir, 'checkpoints'),
    LOGAGENT_PATHS: join(dir, '*.log'),
    LOGAGENT_TOPIC: uniqueTopic('cfg'),
    ...env,
  };
}

test('consume --json prints one object per message with its topic, partition, offset, key, value, headers and timestamp', async (t) => {
  const topic = uniqueTopic('cli-json');
  await createTopic(topic, 2);
  await produce(t, topic, [
    { partition: 0, key: 'k0', value: 'first value', timestamp: '1700000000000' },
    { partition: 1, key: 'k1', value: 'ünïcödé ✓ value', timestamp: '1700000000001', headers: { 'trace-id': 'abc-123' } },
    { partition: 1, key: 'k2', value: 'third', timestamp: '1700000000002' },
  ]);
  const { code, stdout, stderr } = await runCli([
    'consume',
    '--brokers',
    brokers(),
    '--topic',
    topic,
    '--from-beginning',
    '--max-messages',
    '3',
    '--json',
  ]);
  assert.equal(code, 0, stderr);
  const printed = stdoutLines(stdout)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .sort((a, b) => Number(a.partition) - Number(b.partition) || Number(a.offset) - Number(b.offset));
  assert.deepEqual(printed, [
    { topic, partition: 0, offset: '0', key: 'k0', value: 'first value', headers: {}, timestamp: '1700000000000' },
    {
      topic,
      partition: 1,
      offset: '0',
      key: 'k1',
      value: 'ünïcödé ✓ value',
      headers: { 'trace-id': 'abc-123' },
      timestamp: '1700000000001',
    },
    { topic, partition: 1, offset: '1', key: 'k2', value: 'third', headers: {}, timestamp: '1700000000002' },
  ]);
});

test('consume without --json prints "partition offset key value" per message', async (t) => {
  const topic = uniqueTopic('cli-text');
  await createTopic(topic, 1);
  await produce(t, topic, [
    { key: 'k0', value: 'v0' },
    { key: 'k1', value: 'v1' },
    { key: 'k2', value: 'a value with spaces' },
  ]);
  const { code, stdout, stderr } = await runCli([
    'consume',
    '--brokers',
    brokers(),
    '--topic',
    topic,
    '--from-beginning',
    '--max-messages',
    '3',
  ]);
  assert.equal(code, 0, stderr);
  assert.deepEqual(stdoutLines(stdout), ['0 0 k0 v0', '0 1 k1 v1', '0 2 k2 a value with spaces']);
});

test('consume with --timeout-ms and no --max-messages prints everything and exits 0 soon after no message came for that long', async (t) => {
  const topic = uniqueTopic('cli-timeout');
  await createTopic(topic, 1);
  await produce(t, topic, [
    { key: 'k0', value: 'v0' },
    { key: 'k1', value: 'v1' },
  ]);
  const startedAt = Date.now();
  const { code, stdout, stderr } = await runCli([
    'consume',
    '--brokers',
    brokers(),
    '--topic',
    topic,
    '--from-beginning',
    '--timeout-ms',
    '1500',
  ]);
  const tookMs = Date.now() - startedAt;
  assert.equal(code, 0, stderr);
  assert.deepEqual(stdoutLines(stdout), ['0 0 k0 v0', '0 1 k1 v1']);
  // Start, join and reading take well under a second: exit comes soon after the quiet period.
  assert.ok(tookMs < 1_500 + 2_500, `exited after ${tookMs} ms`);
});

test('consume exits 1 when --timeout-ms passes before --max-messages messages arrived, after printing what did', async (t) => {
  const topic = uniqueTopic('cli-short');
  await createTopic(topic, 1);
  await produce(t, topic, [
    { key: 'k0', value: 'v0' },
    { key: 'k1', value: 'v1' },
  ]);
  const { code, stdout, stderr } = await runCli([
    'consume',
    '--brokers',
    brokers(),
    '--topic',
    topic,
    '--from-beginning',
    '--max-messages',
    '5',
    '--timeout-ms',
    '1500',
  ]);
  assert.equal(code, 1, stderr);
  assert.deepEqual(stdoutLines(stdout), ['0 0 k0 v0', '0 1 k1 v1']);
});

test('a bad KAFKA_ACKS exits 2 with a message naming KAFKA_ACKS, the value and the allowed values', async (t) => {
  const { code, stderr } = await runCli(['run'], configEnv(t, { KAFKA_ACKS: '2' }), 20_000);
  assert.equal(code, 2, stderr);
  assert.match(stderr, /KAFKA_ACKS/);
  assert.match(stderr, /"2"/);
  for (const allowed of ['"all"', '"1"', '"0"']) assert.ok(stderr.includes(allowed), `${allowed} in: ${stderr}`);
});

test('a bad KAFKA_PARTITIONER exits 2 with a message naming KAFKA_PARTITIONER, the value and the allowed values', async (t) => {
  const { code, stderr } = await runCli(['run'], configEnv(t, { KAFKA_PARTITIONER: 'murmur3' }), 20_000);
  assert.equal(code, 2, stderr);
  assert.match(stderr, /KAFKA_PARTITIONER/);
  assert.match(stderr, /"murmur3"/);
  for (const allowed of ['"hash"', '"round-robin"', '"random"', '"manual"']) {
    assert.ok(stderr.includes(allowed), `${allowed} in: ${stderr}`);
  }
});

test('a missing LOGAGENT_TOPIC exits 2 with a message naming LOGAGENT_TOPIC', async (t) => {
  const env = configEnv(t, {});
  delete env.LOGAGENT_TOPIC;
  const { code, stderr } = await runCli(['run'], env, 20_000);
  assert.equal(code, 2, stderr);
  assert.match(stderr, /LOGAGENT_TOPIC/);
  assert.match(stderr, /required/);
});

test('check-config prints the effective configuration as JSON (environment over defaults) and exits 0', async (t) => {
  const env = configEnv(t, { KAFKA_ACKS: '1', KAFKA_COMPRESSION: 'zstd', LOGAGENT_PATHS: '/var/log/a.log, /var/log/b/*.log' });
  const { code, stdout, stderr } = await runCli(['check-config'], env, 20_000);
  assert.equal(code, 0, stderr);
  const config = JSON.parse(stdout) as {
    kafka: Record<string, unknown>;
    inputs: Array<Record<string, unknown>>;
    checkpoint: Record<string, unknown>;
    http: Record<string, unknown>;
  };
  // From the environment.
  assert.deepEqual(config.kafka.brokers, [brokers()]);
  assert.equal(config.kafka.acks, '1');
  assert.equal(config.kafka.compression, 'zstd');
  assert.equal(config.inputs.length, 1);
  assert.equal(config.inputs[0]?.topic, env.LOGAGENT_TOPIC);
  assert.deepEqual(config.inputs[0]?.paths, ['/var/log/a.log', '/var/log/b/*.log']);
  assert.equal(config.checkpoint.dir, env.LOGAGENT_CHECKPOINT_DIR);
  assert.equal(config.http.port, 0);
  // Defaults.
  assert.equal(config.kafka.partitioner, 'hash');
  assert.equal(config.kafka.topicCreate, true);
  assert.equal(config.inputs[0]?.startAt, 'end');
});

test('an unknown command exits 2 and prints the usage', async () => {
  const { code, stdout, stderr } = await runCli(['frobnicate'], {}, 20_000);
  assert.equal(code, 2);
  assert.equal(stdout, '');
  assert.match(stderr, /unknown command "frobnicate"/);
  assert.match(stderr, /usage: logagent/);
});

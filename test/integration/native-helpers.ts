// Helpers of the native sink's integration tests: a NativeKafkaSink on the
// suite's broker (or an own cluster) closed by t.after, numbered lines fed
// as a file reader feeds them, and checks over what a consumer read back.

import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import pino from 'pino';
import type { KafkaConfig } from '../../src/config/config.ts';
import { Metrics } from '../../src/metrics.ts';
import type { LineBatch } from '../../src/sink/line-batch.ts';
import { NativeKafkaSink } from '../../src/sink/native/native-sink.ts';
import type { NativeProducerOptions } from '../../src/sink/native/options.ts';
import { lineBatches, RecordingOwner } from '../support/line-batches.ts';
import { brokers, type RawConsumed } from './helpers.ts';

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export function kafkaConfig(overrides: Partial<KafkaConfig> = {}): KafkaConfig {
  return {
    client: 'native',
    brokers: brokers().split(','),
    clientId: 'logagent-native-test',
    acks: 'all',
    partitioner: 'hash',
    partition: 0,
    compression: 'none',
    idempotent: true,
    batchMaxBytes: 256 * 1024,
    lingerMs: 5,
    requestTimeoutMs: 10_000,
    connectionTimeoutMs: 3_000,
    retryMaxBackoffMs: 1_000,
    topicCreate: true,
    topicPartitions: 3,
    topicReplicationFactor: 0,
    ...overrides,
  };
}

export interface TestSink {
  sink: NativeKafkaSink;
  metrics: Metrics;
  logs: LogLine[];
}

export function startSink(
  t: TestContext,
  config: Partial<KafkaConfig> = {},
  overrides: Partial<NativeProducerOptions> = {},
  options: { start?: boolean } = {},
): TestSink {
  const logs: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const metrics = new Metrics();
  const sink = new NativeKafkaSink({ config: kafkaConfig(config), logger, metrics, overrides });
  t.after(() => sink.close(1_000));
  if (options.start ?? true) sink.start();
  return { sink, metrics, logs };
}

/** `line-${i}` for i in [from, to), padded with `pad` bytes of filler. */
export function numberedLines(from: number, to: number, pad = 0): string[] {
  const filler = 'x'.repeat(pad);
  return Array.from({ length: to - from }, (_, i) => `line-${from + i}${pad > 0 ? `-${filler}` : ''}`);
}

/** Sends the lines as batches of `linesPerBatch` and returns the owner that records acknowledgements. */
export function sendLines(
  sink: NativeKafkaSink,
  topic: string,
  lines: readonly string[],
  options: { linesPerBatch?: number; key?: string | null } = {},
): { owner: RecordingOwner; batches: LineBatch[] } {
  const owner = new RecordingOwner();
  const batches = lineBatches(lines, { topic, owner, linesPerBatch: options.linesPerBatch ?? 250, key: options.key ?? 'app.log' });
  for (const b of batches) sink.send(b);
  return { owner, batches };
}

/** Line number of a consumed value `line-N[-...]`. */
export function lineNumber(value: Buffer | string | null): number {
  const s = value?.toString() ?? '';
  const m = /^line-(\d+)/.exec(s);
  return m ? Number(m[1]) : -1;
}

/** Every line in [0, n) exactly once, and in increasing order within each partition. */
export function assertExactlyOnceInOrder(messages: readonly RawConsumed[], n: number): void {
  const seen = new Map<number, number>();
  const lastByPartition = new Map<number, number>();
  const outOfOrder: string[] = [];
  for (const m of messages) {
    const i = lineNumber(m.value);
    seen.set(i, (seen.get(i) ?? 0) + 1);
    const last = lastByPartition.get(m.partition) ?? -1;
    if (i <= last) outOfOrder.push(`p${m.partition}: ${i} after ${last}`);
    lastByPartition.set(m.partition, i);
  }
  const missing: number[] = [];
  for (let i = 0; i < n; i++) if (!seen.has(i)) missing.push(i);
  const dups = [...seen].filter(([, c]) => c > 1).map(([i]) => i);
  assert.deepEqual({ missing: missing.slice(0, 10), missingCount: missing.length }, { missing: [], missingCount: 0 }, 'no line lost');
  assert.deepEqual(dups.slice(0, 10), [], 'no line twice');
  assert.deepEqual(outOfOrder.slice(0, 10), [], 'lines in order within each partition');
  assert.equal(messages.length, n);
}

/** Every line at least once; first arrivals in increasing order within each partition. Returns the duplicate count. */
export function assertNoLossInOrder(messages: readonly RawConsumed[], n: number): number {
  const seen = new Set<number>();
  const lastByPartition = new Map<number, number>();
  const outOfOrder: string[] = [];
  let dups = 0;
  for (const m of messages) {
    const i = lineNumber(m.value);
    if (seen.has(i)) {
      dups++;
      continue;
    }
    seen.add(i);
    const last = lastByPartition.get(m.partition) ?? -1;
    if (i <= last) outOfOrder.push(`p${m.partition}: ${i} after ${last}`);
    lastByPartition.set(m.partition, i);
  }
  const missing: number[] = [];
  for (let i = 0; i < n; i++) if (!seen.has(i)) missing.push(i);
  assert.deepEqual(missing.slice(0, 10), [], `no line lost (${missing.length} missing)`);
  assert.deepEqual(outOfOrder.slice(0, 10), [], 'first arrivals in order within each partition');
  return dups;
}

// The native producer with several requests in flight (idempotent, acks=all)
// through broker failures, each test on a cluster of its own: a broker
// restart, and the kill of a partition leader on a 3-broker cluster with
// replication 3. Lines are fed as the agent feeds them (a bounded number
// in flight) while the failure happens; everything is read back by kcat.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import type { NativeKafkaSink } from '../../src/sink/native/native-sink.ts';
import { lineBatches, RecordingOwner } from '../support/line-batches.ts';
import { kafkaClient, kafkaLocal, kcatPath, ownCluster, uniqueTopic, waitFor, type RawConsumed } from './helpers.ts';
import { assertExactlyOnceInOrder, numberedLines, startSink } from './native-helpers.ts';

const KCAT = kcatPath();

async function kcatAll(topic: string, bootstrap: string): Promise<RawConsumed[]> {
  assert.ok(KCAT, 'kcat is installed');
  const { stdout } = await promisify(execFile)(KCAT, ['-C', '-b', bootstrap, '-t', topic, '-e', '-q', '-f', '%p\t%s\n'], {
    timeout: 120_000,
    maxBuffer: 512 * 1024 * 1024,
  });
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [p, v] = l.split('\t');
      return { partition: Number(p), offset: '', timestamp: 0, key: null, value: Buffer.from(v ?? ''), headers: {} };
    });
}

interface Feeder {
  readonly owner: RecordingOwner;
  /** Most produce requests seen in flight at once. */
  maxInflight: number;
  readonly done: Promise<void>;
}

/** Feeds `total` lines in batches of 200, keeping at most `window` lines unacknowledged, as readers do under the budget. */
function feed(sink: NativeKafkaSink, topic: string, total: number, window: number): Feeder {
  const owner = new RecordingOwner();
  const state: Feeder = { owner, maxInflight: 0, done: Promise.resolve() };
  const run = async (): Promise<void> => {
    const batches = lineBatches(numberedLines(0, total, 60), { topic, owner, linesPerBatch: 200 });
    for (const b of batches) {
      while (sink.pendingLines > window) {
        state.maxInflight = Math.max(state.maxInflight, sink.inflightRequests);
        await new Promise((r) => setTimeout(r, 2));
      }
      sink.send(b);
      state.maxInflight = Math.max(state.maxInflight, sink.inflightRequests);
    }
    await sink.drain(AbortSignal.timeout(180_000));
  };
  return Object.assign(state, { done: run() });
}

const FAST_FAILOVER = 'broker.session.timeout.ms=3000 broker.heartbeat.interval.ms=500';

function sinkOptions(bootstrap: string) {
  // Small requests and no linger: many requests in flight at every moment.
  return {
    brokers: bootstrap.split(','),
    acks: 'all' as const,
    partitioner: 'round-robin' as const,
    batchMaxBytes: 32 * 1024,
    lingerMs: 0,
    requestTimeoutMs: 5_000,
    connectionTimeoutMs: 2_000,
    retryMaxBackoffMs: 500,
    topicPartitions: 3,
  };
}

async function leaderOf(topic: string, partition: number, bootstrap: string): Promise<number> {
  const admin = kafkaClient(bootstrap).admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader ?? -1;
  } finally {
    await admin.disconnect();
  }
}

async function failoverRun(
  t: TestContext,
  bootstrap: string,
  fail: (topic: string) => Promise<void>,
): Promise<{ got: RawConsumed[]; total: number; feeder: Feeder; logs: Array<{ msg: string }> }> {
  const topic = uniqueTopic('native-failover');
  const { sink, logs } = startSink(t, sinkOptions(bootstrap));
  const total = 120_000;
  const feeder = feed(sink, topic, total, 20_000);
  await waitFor(() => feeder.owner.ackedLines >= 20_000, 60_000, '20,000 lines acknowledged before the failure');
  await fail(topic);
  await feeder.done;
  assert.equal(feeder.owner.ackedLines, total, 'every batch acknowledged');
  return { got: await kcatAll(topic, bootstrap), total, feeder, logs };
}

test('idempotent producer, several requests in flight: a broker restart loses, repeats and reorders nothing', async (t) => {
  const { env, bootstrap } = await ownCluster(t, { KAFKA_LOCAL_PORT: '29592', KAFKA_LOCAL_PROPS: FAST_FAILOVER }, 1);
  const { got, total, feeder, logs } = await failoverRun(t, bootstrap, async () => {
    await kafkaLocal(['stop-node', '0'], env);
    await new Promise((r) => setTimeout(r, 1_000));
    await kafkaLocal(['start-node', '0'], env);
  });
  assert.ok(feeder.maxInflight >= 2, `requests in flight at once: ${feeder.maxInflight}`);
  assert.ok(
    logs.some((l) => l.msg === 'kafka delivery failed; retrying (lines wait on disk, nothing is dropped)'),
    'the outage was seen',
  );
  assertExactlyOnceInOrder(got, total);
});

test('idempotent producer, several requests in flight: killing a partition leader of a 3-broker cluster (replication 3) loses, repeats and reorders nothing', async (t) => {
  const { env, bootstrap } = await ownCluster(t, { KAFKA_LOCAL_PORT: '29792', KAFKA_LOCAL_PROPS: FAST_FAILOVER }, 3);
  let killed = -1;
  const { got, total, feeder } = await failoverRun(t, bootstrap, async (topic) => {
    killed = await leaderOf(topic, 0, bootstrap);
    assert.ok(killed >= 0, 'partition 0 has a leader');
    await kafkaLocal(['kill-node', String(killed)], env);
    await waitFor(async () => (await leaderOf(topic, 0, bootstrap)) !== killed, 30_000, 'a new leader');
  });
  assert.ok(feeder.maxInflight >= 2, `requests in flight at once: ${feeder.maxInflight}`);
  assertExactlyOnceInOrder(got, total);
});

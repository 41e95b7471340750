// The producer's engine (scheduling, answers, acknowledgements) over a fake
// connection that answers Metadata and InitProducerId and lets each test
// decide when and how every Produce request is answered. Kafka itself is
// only faked here, in unit tests of our own logic.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Cluster } from '../../../../src/sink/native/cluster.ts';
import type { BrokerConnection } from '../../../../src/sink/native/connection.ts';
import { nativeOptions, type NativeProducerOptions } from '../../../../src/sink/native/options.ts';
import type { ProduceRequest, ProduceResponse } from '../../../../src/sink/native/produce.ts';
import { Producer, type RequestReport } from '../../../../src/sink/native/producer.ts';
import { LogagentHeaders } from '../../../../src/sink/native/record-batch.ts';
import type { Api, MetadataResponse } from '../../../../src/sink/native/protocol.ts';
import { Writer } from '../../../../src/sink/native/wire.ts';
import { lineBatches, RecordingOwner } from '../../../support/line-batches.ts';
import { waitUntil } from '../../wait.ts';

interface HeldProduce {
  readonly request: ProduceRequest;
  readonly resolve: (r: ProduceResponse) => void;
  readonly reject: (e: Error) => void;
}

class FakeConnection {
  isOpen = false;
  readonly produce: HeldProduce[] = [];
  metadataCalls = 0;
  leader = 0;
  async open(): Promise<void> {
    this.isOpen = true;
  }
  version(api: { max: number }): number {
    return Math.min(api.max, 12);
  }
  whenClosed(): Promise<void> {
    return Promise.resolve();
  }
  destroy(): void {
    this.isOpen = false;
    for (const p of this.produce.splice(0)) p.reject(new Error('connection closed'));
  }
  request(api: Api<unknown, unknown>, req: unknown): Promise<unknown> {
    if (api.name === 'Metadata') {
      this.metadataCalls++;
      const res: MetadataResponse = {
        brokers: [{ nodeId: 0, host: 'fake', port: 1 }],
        controllerId: 0,
        errorCode: 0,
        topics: (req as { topics: string[] }).topics.map((name) => ({
          errorCode: 0,
          name,
          topicId: Buffer.alloc(16, 1),
          partitions: [{ errorCode: 0, partition: 0, leader: this.leader, leaderEpoch: 0 }],
        })),
      };
      return Promise.resolve(res);
    }
    if (api.name === 'InitProducerId') return Promise.resolve({ errorCode: 0, producerId: 42, producerEpoch: 0 });
    if (api.name === 'Produce')
      return new Promise((resolve, reject) => this.produce.push({ request: req as ProduceRequest, resolve, reject }));
    return Promise.reject(new Error(`unexpected ${api.name}`));
  }
}

function setup(overrides: Partial<NativeProducerOptions> = {}) {
  const connection = new FakeConnection();
  const reports: RequestReport[] = [];
  const options = nativeOptions(
    {
      client: 'native',
      brokers: ['fake:1'],
      clientId: 'test',
      acks: 'all',
      partitioner: 'hash',
      partition: 0,
      compression: 'none',
      idempotent: true,
      batchMaxBytes: 200,
      lingerMs: 0,
      requestTimeoutMs: 1000,
      connectionTimeoutMs: 1000,
      retryMaxBackoffMs: 1,
      topicCreate: false,
      topicPartitions: 1,
      topicReplicationFactor: 1,
    },
    { backoffMs: () => 1, ...overrides },
  );
  const cluster = new Cluster({
    bootstrap: ['fake:1'],
    logger: pino({ level: 'silent' }),
    connect: () => connection as unknown as BrokerConnection,
  });
  const owner = new RecordingOwner();
  const producer = new Producer(
    options,
    cluster,
    {
      batchAcked: (b) => owner.onBatchAcked(b),
      requestDone: (r) => reports.push(r),
      failure: () => undefined,
      tooLarge: () => undefined,
      topicCreated: () => undefined,
    },
    new LogagentHeaders(),
  );
  return { connection, producer, owner, reports };
}

/**
 * Waits (up to 2 s, so a loaded machine cannot fail a test) until what the
 * producer should do next has happened, then 5 ms more, so that anything it
 * must not do (acknowledge early, send twice) has had its chance to show.
 */
async function settled(cond: () => boolean): Promise<boolean> {
  const ok = await waitUntil(cond, 2_000);
  await new Promise((r) => setTimeout(r, 5));
  return ok;
}

function answer(held: HeldProduce, errorCode = 0): void {
  held.resolve({
    throttleTimeMs: 0,
    partitions: held.request.topics.flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.name,
        topicId: null,
        partition: p.partition,
        errorCode,
        baseOffset: 0,
        errorMessage: null,
        currentLeader: undefined,
      })),
    ),
  });
}

test('nothing is acknowledged before the broker answers; an unanswered request is sent again, and its lines are acknowledged once', async () => {
  const { connection, producer, owner } = setup();
  for (const b of lineBatches(['a', 'b', 'c', 'd'], { topic: 't', owner, linesPerBatch: 2 })) producer.add(b);
  await settled(() => connection.produce.length >= 1);
  assert.equal(connection.produce.length, 1, 'one batch alone until the broker acknowledged one');
  assert.equal(owner.acked.length, 0, 'nothing acknowledged while the request is unanswered');
  connection.produce.shift()!.reject(new Error('deadline passed')); // our deadline: the outcome is unknown
  await settled(() => connection.produce.length >= 1);
  assert.equal(owner.acked.length, 0, 'a request that got no answer acknowledges nothing');
  assert.equal(connection.produce.length, 1, 'sent again');
  answer(connection.produce.shift()!);
  await settled(() => owner.ackedLines >= 2);
  assert.ok(owner.ackedLines >= 2);
  while (owner.ackedLines < 4 && (await settled(() => connection.produce.length > 0 || owner.ackedLines >= 4))) {
    if (connection.produce.length > 0) answer(connection.produce.shift()!);
  }
  assert.equal(owner.ackedLines, 4);
  assert.equal(owner.acked.length, 2, 'each batch acknowledged once');
  await producer.close(10);
});

test('several produce requests are in flight at once, at most 5 per broker, with consecutive sequences', async () => {
  const { connection, producer, owner } = setup({ batchMaxBytes: 40 });
  const lines = Array.from({ length: 40 }, (_, i) => `line-${i}`);
  for (const b of lineBatches(lines, { topic: 't', owner, linesPerBatch: 4 })) producer.add(b);
  await settled(() => connection.produce.length >= 1);
  answer(connection.produce.shift()!); // the first batch confirms the producer id on the partition
  await settled(() => connection.produce.length >= 5);
  assert.equal(connection.produce.length, 5, 'five requests in flight');
  // Record batch header: baseSequence at byte 53, record count at 57.
  const batches = connection.produce.map((h) => {
    const batch = h.request.topics[0]!.partitions[0]!.batch;
    const w = new Writer(Buffer.alloc(batch.size));
    batch.write(w);
    return { sequence: w.buf.readInt32BE(53), records: w.buf.readInt32BE(57) };
  });
  for (let i = 1; i < batches.length; i++) assert.equal(batches[i]!.sequence, batches[i - 1]!.sequence + batches[i - 1]!.records);
  while (owner.ackedLines < 40 && (await settled(() => connection.produce.length > 0 || owner.ackedLines >= 40))) {
    if (connection.produce.length > 0) answer(connection.produce.shift()!);
  }
  assert.equal(owner.ackedLines, 40);
  await producer.close(10);
});

test('NOT_LEADER_OR_FOLLOWER asks for new metadata, and the lines go again', async () => {
  const { connection, producer, owner } = setup();
  for (const b of lineBatches(['a', 'b'], { topic: 't', owner, linesPerBatch: 2 })) producer.add(b);
  await settled(() => connection.produce.length >= 1);
  const before = connection.metadataCalls;
  answer(connection.produce.shift()!, 6);
  await settled(() => connection.metadataCalls > before && connection.produce.length >= 1);
  assert.ok(connection.metadataCalls > before, 'metadata refreshed');
  assert.equal(owner.acked.length, 0);
  answer(connection.produce.shift()!);
  await settled(() => owner.ackedLines >= 2);
  assert.equal(owner.ackedLines, 2);
  await producer.close(10);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Produce } from '../../../../src/sink/native/produce.ts';
import { ApiVersions, CreateTopics, InitProducerId, Metadata, negotiate, type Api } from '../../../../src/sink/native/protocol.ts';
import { encodeExact, Reader, type Encoder } from '../../../../src/sink/native/wire.ts';
import { kafkajsCreateTopicsV2, kafkajsInitProducerIdV0, kafkajsMetadataV4 } from './kafkajs-internals.ts';

function body<Req>(api: Api<Req, unknown>, version: number, req: Req): Buffer {
  return encodeExact((e) => api.encode(e, version, req));
}

test('Metadata v4, CreateTopics v2 and InitProducerId v0 requests are the bytes kafkajs sends', async () => {
  assert.deepEqual(
    body(Metadata, 4, { topics: ['logs', 'other'], allowAutoTopicCreation: false }),
    (await kafkajsMetadataV4({ topics: ['logs', 'other'], allowAutoTopicCreation: false }).encode()).buffer,
  );
  assert.deepEqual(
    body(CreateTopics, 2, { topics: [{ name: 'logs', partitions: 3, replicationFactor: 2 }], timeoutMs: 5000 }),
    (
      await kafkajsCreateTopicsV2({
        topics: [{ topic: 'logs', numPartitions: 3, replicationFactor: 2, replicaAssignment: [], configEntries: [] }],
        timeout: 5000,
        validateOnly: false,
      }).encode()
    ).buffer,
  );
  assert.deepEqual(
    body(InitProducerId, 0, {}),
    (await kafkajsInitProducerIdV0({ transactionalId: null, transactionTimeout: 2147483647 }).encode()).buffer,
  );
});

test('flexible versions use compact arrays and strings and end every struct with tagged fields', () => {
  // Metadata v12: topics [ (topic_id uuid, name compact string, tags) ], allow auto creation, include topic ops, tags.
  const b = body(Metadata, 12, { topics: ['ab'], allowAutoTopicCreation: false });
  assert.deepEqual([...b], [2, ...new Array(16).fill(0), 3, 0x61, 0x62, 0, 0, 0, 0]);
  // ApiVersions v3+: client software name and version, compact, then tags.
  const a = new Reader(body(ApiVersions, 4, {}));
  assert.equal(a.compactString(), 'logagent-native');
  assert.match(a.compactString() ?? '', /^\d+\.\d+\.\d+$/);
});

test('an ApiVersions v3 response is read, and versions are negotiated to the highest both speak', () => {
  const res = encodeExact((e: Encoder) => {
    e.i16(0);
    e.uvarint(3);
    for (const [key, min, max] of [
      [0, 3, 13],
      [3, 0, 13],
    ]) {
      e.i16(key!);
      e.i16(min!);
      e.i16(max!);
      e.tags();
    }
    e.i32(0);
    e.tags();
  });
  const decoded = ApiVersions.decode(new Reader(res), 3);
  assert.equal(decoded.errorCode, 0);
  assert.equal(negotiate(Produce, decoded.apis.get(0)), 13);
  assert.equal(negotiate(Metadata, { min: 0, max: 8 }), 8);
  assert.equal(negotiate(Produce, { min: 0, max: 2 }), undefined, 'Kafka 4 refuses Produce < 3; so do we');
});

test('a Metadata v12 response gives brokers, topic ids, partitions and leaders', () => {
  const topicId = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const res = encodeExact((e) => {
    e.i32(0); // throttle
    e.uvarint(2); // brokers
    e.i32(1);
    e.compactString('kafka-1');
    e.i32(9092);
    e.compactString(null);
    e.tags();
    e.compactString('cluster');
    e.i32(1); // controller
    e.uvarint(2); // topics
    e.i16(0);
    e.compactString('logs');
    e.uuid(topicId);
    e.bool(false);
    e.uvarint(2); // partitions
    e.i16(0);
    e.i32(0);
    e.i32(1); // leader
    e.i32(7); // leader epoch
    for (let k = 0; k < 3; k++) {
      e.uvarint(2);
      e.i32(1);
    }
    e.tags();
    e.i32(-2147483648);
    e.tags();
    e.tags();
  });
  const m = Metadata.decode(new Reader(res), 12);
  assert.deepEqual(m.brokers, [{ nodeId: 1, host: 'kafka-1', port: 9092 }]);
  assert.equal(m.topics[0]?.name, 'logs');
  assert.deepEqual(m.topics[0]?.topicId, topicId);
  assert.deepEqual(m.topics[0]?.partitions, [{ errorCode: 0, partition: 0, leader: 1, leaderEpoch: 7 }]);
});

test('a Produce v10 response gives each partition’s error and, when it moved, its current leader', () => {
  const res = encodeExact((e) => {
    e.uvarint(2); // topics
    e.compactString('logs');
    e.uvarint(2); // partitions
    e.i32(2);
    e.i16(6); // NOT_LEADER_OR_FOLLOWER
    e.i64(-1);
    e.i64(-1);
    e.i64(-1);
    e.uvarint(1); // record errors: none
    e.compactString('moved');
    e.uvarint(1); // one tagged field
    e.uvarint(0); // tag 0: CurrentLeader
    e.uvarint(9);
    e.i32(3);
    e.i32(12);
    e.tags();
    e.tags();
    e.i32(0); // throttle
    e.tags();
  });
  const r = Produce.decode(new Reader(res), 10);
  assert.deepEqual(r.partitions, [
    {
      topic: 'logs',
      topicId: null,
      partition: 2,
      errorCode: 6,
      baseOffset: -1,
      errorMessage: 'moved',
      currentLeader: { leaderId: 3, leaderEpoch: 12 },
    },
  ]);
});

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import fc from 'fast-check';
import { javaPartition, murmur2 } from '../../../src/sink/murmur2.ts';
import { createPartitioner } from '../../../src/sink/partitioner.ts';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;

test('murmur2 equals the Java-compatible reference (kafkajs) on any bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      assert.equal(murmur2(bytes), kafkajsMurmur2(Buffer.from(bytes)));
    }),
    { numRuns: 3000 },
  );
});

test('known values from the Java client', () => {
  // Utils.murmur2("21".getBytes()) = -973932308 (Kafka's UtilsTest).
  assert.equal(murmur2(Buffer.from('21')), -973932308);
  assert.equal(javaPartition(Buffer.from('21'), 7), (-973932308 & 0x7fffffff) % 7);
});

test('the hash partitioner picks the Java partition for string keys, and caches per key', () => {
  const partition = createPartitioner('hash', 0)();
  const meta = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
  for (const key of ['/var/log/app.log', '/logs/a.log', 'x']) {
    for (const n of [1, 3, 7]) {
      const expected = javaPartition(Buffer.from(key), n);
      assert.equal(partition({ topic: 't', partitionMetadata: meta(n), message: { key, value: null } }), expected);
      assert.equal(partition({ topic: 't', partitionMetadata: meta(n), message: { key, value: null } }), expected);
    }
  }
});

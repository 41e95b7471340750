import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { CompressionName } from '../../../../src/config/config.ts';
import type { LineBatch } from '../../../../src/sink/line-batch.ts';
import { Produce } from '../../../../src/sink/native/produce.ts';
import { encodeBatch, KeyCache, LogagentHeaders, NO_STAMP, type Slice, type Stamp } from '../../../../src/sink/native/record-batch.ts';
import { Sizer, Writer } from '../../../../src/sink/native/wire.ts';
import { lineBatches, RecordingOwner } from '../../../support/line-batches.ts';
import { kafkajsDecodeBatch, kafkajsProduceV3, long } from './kafkajs-internals.ts';

/** A v2 record batch's header, before its records (baseOffset to records count). */
const RECORD_BATCH_HEADER_BYTES = 61;

interface Input {
  readonly batches: LineBatch[];
  readonly stamp: Stamp;
}

const input = fc
  .record({
    lines: fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 40 }),
    perBatch: fc.integer({ min: 1, max: 10 }),
    key: fc.option(fc.string({ unit: 'grapheme', maxLength: 30 }), { nil: null }),
    truncated: fc.boolean(),
    readAt: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
    steps: fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 40, maxLength: 40 }),
    producerId: fc.integer({ min: 0, max: 2 ** 40 }),
    producerEpoch: fc.integer({ min: 0, max: 32767 }),
    baseSequence: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  })
  .map(({ lines, perBatch, key, truncated, readAt, steps, producerId, producerEpoch, baseSequence }): Input => {
    const batches = lineBatches(
      lines.map((l) => Buffer.from(l.map((b) => (b === 0x0a ? 0x20 : b)))),
      { topic: 't', owner: new RecordingOwner(), linesPerBatch: perBatch, key, truncated },
    );
    // Read times that only move forward, as one file's reads do.
    let at = readAt;
    const timed = batches.map((b, i) =>
      Object.assign(Object.create(Object.getPrototypeOf(b) as object) as LineBatch, b, { readAt: (at += steps[i] ?? 0) }),
    );
    return { batches: timed, stamp: { producerId, producerEpoch, baseSequence } };
  });

function slices(batches: readonly LineBatch[]): Slice[] {
  return batches.map((batch) => ({ batch, from: 0, to: batch.count, lines: null }));
}

/** The same lines as kafkajs producer messages. */
function messages(batches: readonly LineBatch[]): unknown[] {
  return batches.flatMap((b) =>
    Array.from({ length: b.count }, (_, i) => ({
      key: b.key,
      value: b.value(i),
      timestamp: b.readAt,
      // Every header, in our order: static ones, logagent.source, logagent.offset, logagent.truncated.
      headers: Object.fromEntries(b.headersAt(i).map(([k, v]) => [k, v])),
    })),
  );
}

async function ourProduceV3(topic: string, partition: number, codec: CompressionName, i: Input): Promise<Buffer> {
  const batch = await encodeBatch(codec, { slices: slices(i.batches), stamp: i.stamp }, new LogagentHeaders(), new KeyCache());
  const req = { acks: -1, timeoutMs: 30_000, topics: [{ name: topic, topicId: Buffer.alloc(16), partitions: [{ partition, batch }] }] };
  const sizer = new Sizer();
  Produce.encode(sizer, 3, req);
  const w = new Writer(Buffer.alloc(sizer.size));
  Produce.encode(w, 3, req);
  assert.equal(w.offset, sizer.size);
  return w.buf;
}

async function kafkajsProduce(topic: string, partition: number, i: Input): Promise<Buffer> {
  const request = kafkajsProduceV3({
    acks: -1,
    timeout: 30_000,
    producerId: long(i.stamp.producerId),
    producerEpoch: i.stamp.producerEpoch,
    topicData: [{ topic, partitions: [{ partition, firstSequence: i.stamp.baseSequence, messages: messages(i.batches) }] }],
  });
  return (await request.encode()).buffer;
}

test('an uncompressed Produce v3 request is byte-for-byte the one kafkajs encodes for the same lines (but the leader epoch kafkajs leaves at 0)', async () => {
  await fc.assert(
    fc.asyncProperty(input, async (i) => {
      const topic = 'logs-ü';
      const ours = await ourProduceV3(topic, 2, 'none', i);
      const theirs = await kafkajsProduce(topic, 2, i);
      const batchStart = 2 + 2 + 4 + 4 + 2 + Buffer.byteLength(topic) + 4 + 4 + 4;
      // partitionLeaderEpoch: -1 from producers (the Java client's NO_PARTITION_LEADER_EPOCH; the broker sets it), 0 from kafkajs. Not under the CRC.
      assert.equal(ours.readInt32BE(batchStart + 12), -1);
      ours.writeInt32BE(0, batchStart + 12);
      assert.deepEqual(ours, theirs);
    }),
    { numRuns: 200 },
  );
});

for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
  test(`a ${codec} record batch decodes with kafkajs to the same records, keys, headers and timestamps`, async () => {
    await fc.assert(
      fc.asyncProperty(input, async (i) => {
        const batch = await encodeBatch(codec, { slices: slices(i.batches), stamp: i.stamp }, new LogagentHeaders(), new KeyCache());
        const w = new Writer(Buffer.alloc(batch.size));
        batch.write(w);
        const decoded = await kafkajsDecodeBatch(w.buf);
        const expected = messages(i.batches) as Array<{
          key: string | null;
          value: Buffer;
          timestamp: number;
          headers?: Record<string, Buffer>;
        }>;
        assert.equal(decoded.records.length, expected.length);
        assert.equal(Number(decoded.producerId), i.stamp.producerId);
        assert.equal(decoded.producerEpoch, i.stamp.producerEpoch);
        assert.equal(decoded.firstSequence, i.stamp.baseSequence);
        assert.equal(decoded.lastOffsetDelta, expected.length - 1);
        decoded.records.forEach((r, k) => {
          const e = expected[k]!;
          assert.deepEqual(r.value, e.value);
          assert.equal(r.key === null ? null : r.key.toString(), e.key);
          assert.equal(Number(r.timestamp), e.timestamp);
          assert.equal(r.offset, String(k));
          assert.deepEqual(
            Object.fromEntries(Object.entries(r.headers).map(([h, v]) => [h, v.toString()])),
            Object.fromEntries(Object.entries(e.headers ?? {}).map(([h, v]) => [h, v.toString()])),
          );
        });
      }),
      { numRuns: 40 },
    );
  });
}

test('static headers come first on every record, then source and offset; two routes keep their own', async () => {
  const owner = new RecordingOwner();
  const web = [
    ['env', Buffer.from('prod')],
    ['team', Buffer.from('paiement-é')],
  ] as const;
  const batches = [
    ...lineBatches(['a', 'bb'], { topic: 't', owner, linesPerBatch: 2, key: null, headers: web }),
    ...lineBatches(['ccc'], { topic: 't', owner, linesPerBatch: 1, key: null, headers: [['env', Buffer.from('dev')]] }),
    ...lineBatches(['dddd'], { topic: 't', owner, linesPerBatch: 1, key: null }),
  ];
  const headers = new LogagentHeaders();
  for (let round = 0; round < 2; round++) {
    // The second round reads the static sections from the cache.
    const encoded = await encodeBatch('none', { slices: slices(batches), stamp: NO_STAMP }, headers, new KeyCache());
    const w = new Writer(Buffer.alloc(encoded.size));
    encoded.write(w);
    assert.equal(w.offset, encoded.size, 'measured size is the written size');
    const decoded = await kafkajsDecodeBatch(w.buf);
    assert.deepEqual(
      decoded.records.map((r) => Object.entries(r.headers).map(([k, v]) => `${k}=${v.toString()}`)),
      batches.flatMap((b) => Array.from({ length: b.count }, (_, i) => b.headersAt(i).map(([k, v]) => `${k}=${v.toString()}`))),
    );
    assert.deepEqual(Object.keys(decoded.records[0]!.headers), ['env', 'team', 'logagent.source', 'logagent.offset']);
    assert.equal(decoded.records[1]!.headers.team!.toString(), 'paiement-é');
  }
});

test('a cut line is written cut and marked truncated; the rest of its batch is untouched', async () => {
  const [batch] = lineBatches(['aaaa', 'bbbbbbbb', 'cc'], { topic: 't', owner: new RecordingOwner(), linesPerBatch: 3, key: null });
  batch!.cutValue(1, 6);
  const encoded = await encodeBatch(
    'none',
    { slices: slices([batch!]), stamp: { producerId: -1, producerEpoch: -1, baseSequence: -1 } },
    new LogagentHeaders(),
    new KeyCache(),
  );
  const w = new Writer(Buffer.alloc(encoded.size));
  encoded.write(w);
  const decoded = await kafkajsDecodeBatch(w.buf);
  assert.deepEqual(
    decoded.records.map((r) => [r.value?.toString(), Object.keys(r.headers)]),
    [
      ['aaaa', ['logagent.source', 'logagent.offset']],
      ['bbbbbb', ['logagent.source', 'logagent.offset', 'logagent.truncated']],
      ['cc', ['logagent.source', 'logagent.offset']],
    ],
  );
});

test('property: a batch cut by recordSizeBound fits: no record is larger on the wire than its bound', async () => {
  const bounded = fc.record({
    lines: fc.array(fc.uint8Array({ maxLength: 400 }), { minLength: 1, maxLength: 30 }),
    key: fc.option(fc.string({ unit: 'grapheme', maxLength: 60 }), { nil: null }),
    truncated: fc.boolean(),
    startOffset: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 50 })),
    source: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }),
    headers: fc.array(fc.tuple(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.uint8Array({ maxLength: 200 })), { maxLength: 4 }),
  });
  await fc.assert(
    fc.asyncProperty(bounded, async ({ lines, key, truncated, startOffset, source, headers }) => {
      const [batch] = lineBatches(
        lines.map((l) => Buffer.from(l.map((b) => (b === 0x0a ? 0x20 : b)))),
        {
          topic: 't',
          owner: new RecordingOwner(),
          linesPerBatch: lines.length,
          key,
          truncated: truncated && lines.length === 1,
          startOffset,
          source,
          headers: headers.map(([k, v]) => [k, Buffer.from(v)] as const),
        },
      );
      const headersOfRecords = new LogagentHeaders();
      const keys = new KeyCache();
      for (let i = 0; i < batch!.count; i++) {
        const one: Slice = { batch: batch!, from: i, to: i + 1, lines: null };
        const encoded = await encodeBatch('none', { slices: [one], stamp: NO_STAMP }, headersOfRecords, keys);
        const recordBytes = encoded.size - RECORD_BATCH_HEADER_BYTES;
        assert.ok(
          recordBytes <= batch!.recordSizeBound(i),
          `record ${i}: ${recordBytes} bytes on the wire, bound ${batch!.recordSizeBound(i)}`,
        );
      }
    }),
    { numRuns: 300 },
  );
});

test('recordSizeBound stays close for ordinary lines (it sizes every request)', async () => {
  const lines = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(9, '0')} ${'x'.repeat(190)}`);
  const [batch] = lineBatches(lines, {
    topic: 't',
    owner: new RecordingOwner(),
    linesPerBatch: 1000,
    key: '/var/log/app/access.log',
    source: '2049:1234567@1796219913256',
  });
  const encoded = await encodeBatch(
    'none',
    { slices: [{ batch: batch!, from: 0, to: 1000, lines: null }], stamp: NO_STAMP },
    new LogagentHeaders(),
    new KeyCache(),
  );
  let bound = 0;
  for (let i = 0; i < 1000; i++) bound += batch!.recordSizeBound(i);
  const actual = encoded.size - RECORD_BATCH_HEADER_BYTES;
  assert.ok(bound >= actual && bound <= actual * 1.25, `bound ${bound} for ${actual} bytes`);
});

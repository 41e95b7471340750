import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import fc from 'fast-check';
import '../../../src/sink/kafkajs.ts';
import { createRecordEncoder, type RecordFields } from '../../../src/sink/record-encoder.ts';

const require = createRequire(import.meta.url);
const installed = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as ((f: RecordFields) => { buffer: Buffer }) & {
  logagent?: boolean;
  original: (f: RecordFields) => { buffer: Buffer };
};

test('kafkajs uses our record encoder once src/sink/kafkajs.ts is loaded', () => {
  assert.equal(installed.logagent, true);
});

test('property: our record encoding is byte-identical to kafkajs’s', () => {
  const ours = createRecordEncoder(installed.original) as (f: RecordFields) => { buffer: Buffer };
  const bytesOrString = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.string({ maxLength: 50 }),
    fc.constant(null),
  );
  fc.assert(
    fc.property(
      fc.record({
        offsetDelta: fc.integer({ min: 0, max: 2 ** 30 - 1 }),
        timestampDelta: fc.oneof(fc.integer({ min: -(2 ** 30), max: 2 ** 30 - 1 }), fc.integer({ min: 0, max: 300 })),
        key: bytesOrString,
        value: bytesOrString,
        headers: fc.dictionary(
          fc.string({ maxLength: 20 }),
          fc.oneof(
            fc.string({ maxLength: 20 }),
            fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)),
          ),
        ),
      }),
      (fields) => {
        assert.deepEqual(ours(fields).buffer, installed.original(fields).buffer);
      },
    ),
    { numRuns: 5000 },
  );
});

test('unusual fields (array headers, huge deltas) go to kafkajs’s own encoder', () => {
  const ours = createRecordEncoder(installed.original) as (f: RecordFields) => { buffer: Buffer };
  for (const fields of [
    { key: 'k', value: 'v', headers: { a: ['1', '2'] } },
    { key: 'k', value: 'v', timestampDelta: 2 ** 40 },
  ]) {
    assert.deepEqual(ours(fields).buffer, installed.original(fields).buffer);
  }
});

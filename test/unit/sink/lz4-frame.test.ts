import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import fc from 'fast-check';
import { lz4Frame } from '../../../src/sink/lz4-frame.ts';

const require = createRequire(import.meta.url);
const lz4js = require('lz4js') as { decompress(b: Uint8Array): Uint8Array };

test('property: an LZ4 frame decompresses to its input (random, repetitive, and multi-block inputs)', () => {
  const repetitive = fc
    .tuple(fc.string({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 5_000 }))
    .map(([s, n]) => Buffer.from(s.repeat(n)));
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 2_000 }).map((b) => Buffer.from(b)),
        repetitive,
      ),
      (input) => {
        assert.deepEqual(Buffer.from(lz4js.decompress(lz4Frame(input))), input);
      },
    ),
    { numRuns: 300 },
  );
});

test('the frame header sets version 01 and block independence, as Kafka requires', () => {
  const frame = lz4Frame(Buffer.from('x'.repeat(200_000)));
  assert.equal(frame.readUInt32LE(0), 0x184d2204);
  assert.equal(frame[4], 0x60);
});

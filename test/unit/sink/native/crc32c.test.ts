import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { crc32c } from '../../../../src/sink/native/crc32c.ts';
import { kafkajsCrc32C } from './kafkajs-internals.ts';

test('CRC-32C matches the published check values', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283); // the catalogue's check value for CRC-32C
  // RFC 3720 (iSCSI) B.4 test vectors.
  assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
});

test('CRC-32C equals kafkajs’s over any bytes, any sub-range, and when continued in pieces', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const buf = Buffer.from(bytes);
      assert.equal(crc32c(buf), kafkajsCrc32C(buf) >>> 0);
      const start = buf.length === 0 ? 0 : a % buf.length;
      const end = start + (buf.length === 0 ? 0 : b % (buf.length - start + 1));
      assert.equal(crc32c(buf, start, end), kafkajsCrc32C(buf.subarray(start, end)) >>> 0);
      assert.equal(crc32c(buf, end, buf.length, crc32c(buf, 0, end)), crc32c(buf));
    }),
    { numRuns: 500 },
  );
});

test('CRC-32C is the same wherever the bytes sit in memory (word-aligned or not)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.integer({ min: 0, max: 7 }), (bytes, shift) => {
      const backing = Buffer.allocUnsafeSlow(bytes.length + 8);
      const placed = backing.subarray(shift, shift + bytes.length);
      placed.set(bytes);
      assert.equal(crc32c(placed), kafkajsCrc32C(Buffer.from(bytes)) >>> 0);
    }),
    { numRuns: 500 },
  );
});

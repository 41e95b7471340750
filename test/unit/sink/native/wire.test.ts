import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeExact, Reader, Sizer, Writer, zigzag, type Encoder } from '../../../../src/sink/native/wire.ts';

test('every primitive written is read back, and the Sizer counts exactly what the Writer writes', () => {
  const value = fc.record({
    i8: fc.integer({ min: -128, max: 127 }),
    i16: fc.integer({ min: -32768, max: 32767 }),
    i32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    i64: fc.maxSafeInteger(),
    uvarint: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    varint: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    varlong: fc.integer({ min: -(2 ** 52), max: 2 ** 52 }),
    str: fc.option(fc.string({ unit: 'grapheme' }), { nil: null }),
    bytes: fc.option(fc.uint8Array({ maxLength: 200 }), { nil: null }),
  });
  fc.assert(
    fc.property(value, (v) => {
      const encode = (e: Encoder): void => {
        e.i8(v.i8);
        e.i16(v.i16);
        e.i32(v.i32);
        e.i64(v.i64);
        e.uvarint(v.uvarint);
        e.varint(v.varint);
        e.varlong(v.varlong);
        e.string(v.str);
        e.compactString(v.str);
        e.bytes(v.bytes);
        e.compactBytes(v.bytes);
        e.tags();
      };
      const buf = encodeExact(encode);
      const r = new Reader(buf);
      assert.equal(r.i8(), v.i8);
      assert.equal(r.i16(), v.i16);
      assert.equal(r.i32(), v.i32);
      assert.equal(r.i64(), v.i64);
      assert.equal(r.uvarint(), v.uvarint);
      assert.equal(r.varint(), v.varint);
      assert.equal(r.varint(), v.varlong);
      assert.equal(r.string(), v.str);
      assert.equal(r.compactString(), v.str);
      assert.deepEqual(r.bytes(), v.bytes === null ? null : Buffer.from(v.bytes));
      assert.deepEqual(r.compactBytes(), v.bytes === null ? null : Buffer.from(v.bytes));
      r.tags();
      assert.equal(r.remaining, 0);
    }),
    { numRuns: 500 },
  );
});

test('varints use the zigzag encoding of the protocol guide (0, -1, 1, -2 ... become 0, 1, 2, 3 ...)', () => {
  assert.deepEqual([0, -1, 1, -2, 2, 2147483647, -2147483648].map(zigzag), [0, 1, 2, 3, 4, 4294967294, 4294967295]);
  const w = new Writer(Buffer.alloc(16));
  w.varint(300);
  assert.deepEqual([...w.buf.subarray(0, w.offset)], [0xd8, 0x04]);
});

test('a Writer refuses to write past the size it was given', () => {
  const w = new Writer(Buffer.alloc(3));
  assert.throws(() => w.raw(Buffer.alloc(4)), RangeError);
  assert.throws(() => w.compactString('abcd'), RangeError);
  const s = new Sizer();
  s.deferred(10);
  assert.equal(s.size, 10);
  assert.throws(() => new Writer(Buffer.alloc(10)).deferred(10, (x) => x.raw(Buffer.alloc(9))), /wrote/);
});

test('tagged fields are handed to their reader or skipped', () => {
  const buf = encodeExact((e) => {
    e.uvarint(2);
    e.uvarint(0);
    e.uvarint(8);
    e.i32(7);
    e.i32(9);
    e.uvarint(5);
    e.uvarint(2);
    e.i16(1);
    e.i8(42);
  });
  const r = new Reader(buf);
  const seen: number[] = [];
  r.tags((tag, tr) => {
    if (tag === 0) seen.push(tr.i32(), tr.i32());
  });
  assert.deepEqual(seen, [7, 9]);
  assert.equal(r.i8(), 42);
});

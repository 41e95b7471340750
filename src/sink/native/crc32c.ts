// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of a
// Kafka record batch v2. Node has only CRC-32 (zlib.crc32, the IEEE
// polynomial); @aws-crypto/crc32c is byte-at-a-time like kafkajs's own, and
// the accelerated packages (@node-rs/crc32, sse4_crc32) are native addons
// that the esbuild bundle of the image cannot carry. So: slicing-by-16 over
// sixteen 256-entry tables, reading the bytes as aligned 32-bit words (on a
// little-endian machine; byte by byte otherwise). Measured on this machine
// over 1 MiB: 2.3-2.5 GB/s, against 1.1-1.25 GB/s for slicing-by-8 over
// single bytes and ~0.5 GB/s for kafkajs's byte-at-a-time table.

import { endianness } from 'node:os';

const POLY = 0x82f63b78;
const LITTLE_ENDIAN = endianness() === 'LE';

const TABLES = (() => {
  const t = new Int32Array(16 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 16; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/** CRC-32C of buf[start, end), continuing from `crc` (0 for a fresh checksum). Unsigned. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length, crc = 0): number {
  const t = TABLES;
  let c = ~crc;
  let i = start;
  if (LITTLE_ENDIAN) {
    // Bytes up to a 4-byte boundary of the underlying memory, then 16 at a time as words.
    while (i < end && ((buf.byteOffset + i) & 3) !== 0) c = t[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
    const blocks = (end - i) >>> 4;
    if (blocks > 0) {
      const w = new Int32Array(buf.buffer, buf.byteOffset + i, blocks * 4);
      for (let k = 0; k < w.length; k += 4) {
        const a = c ^ w[k]!;
        const b = w[k + 1]!;
        const d = w[k + 2]!;
        const e = w[k + 3]!;
        c =
          t[3840 + (a & 0xff)]! ^
          t[3584 + ((a >>> 8) & 0xff)]! ^
          t[3328 + ((a >>> 16) & 0xff)]! ^
          t[3072 + (a >>> 24)]! ^
          t[2816 + (b & 0xff)]! ^
          t[2560 + ((b >>> 8) & 0xff)]! ^
          t[2304 + ((b >>> 16) & 0xff)]! ^
          t[2048 + (b >>> 24)]! ^
          t[1792 + (d & 0xff)]! ^
          t[1536 + ((d >>> 8) & 0xff)]! ^
          t[1280 + ((d >>> 16) & 0xff)]! ^
          t[1024 + (d >>> 24)]! ^
          t[768 + (e & 0xff)]! ^
          t[512 + ((e >>> 8) & 0xff)]! ^
          t[256 + ((e >>> 16) & 0xff)]! ^
          t[e >>> 24]!;
      }
      i += blocks * 16;
    }
  }
  while (i < end) c = t[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of a
// Kafka record batch v2. Node has only CRC-32 (zlib.crc32, the IEEE
// polynomial); @aws-crypto/crc32c is byte-at-a-time like kafkajs's own, and
// the accelerated packages (@node-rs/crc32, sse4_crc32) are native addons
// that the esbuild bundle of the image cannot carry. So: slicing-by-8 over
// eight 256-entry tables, eight bytes per step. Measured on this machine
// over 1 MiB: 1.25-1.45 GB/s once optimised, against 0.5 GB/s for kafkajs's
// byte-at-a-time table: about 0.15 µs for a 200-byte line.

const POLY = 0x82f63b78;

const TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
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
  const end8 = start + ((end - start) & ~7);
  while (i < end8) {
    const a = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    const b = buf[i + 4]! | (buf[i + 5]! << 8) | (buf[i + 6]! << 16) | (buf[i + 7]! << 24);
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + (b & 0xff)]! ^
      t[512 + ((b >>> 8) & 0xff)]! ^
      t[256 + ((b >>> 16) & 0xff)]! ^
      t[b >>> 24]!;
    i += 8;
  }
  while (i < end) c = t[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

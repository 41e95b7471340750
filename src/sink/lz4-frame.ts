// Writes LZ4 frames the way Kafka's Java producer does. Owns nothing but a
// reusable hash table and output block; pure otherwise.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const xxh32 = require('lz4js/xxh32.js') as { hash(seed: number, src: Uint8Array, index: number, length: number): number };

// LZ4 frame (github.com/lz4/lz4 doc/lz4_Frame_format.md) as Kafka's own
// producer writes it: version 01 with the block-independence flag, 64 KiB
// blocks, no checksums, no content size. lz4js.compress() cannot be used:
// its frame header leaves the block-independence flag unset, and the broker's
// Lz4BlockInputStream refuses every such batch ("Dependent block stream is
// unsupported": the produce request fails with UNKNOWN_SERVER_ERROR, which
// the sink retries forever). Setting the flag is not enough either: lz4js
// keeps one hash table across blocks (its blocks do reference earlier ones
// once a batch exceeds its 4 MiB block size), and its block compressor lets
// the last match start 10 or 11 bytes before the end of a block where the
// block format demands at least 12 (MFLIMIT); liblz4 (librdkafka, the lz4
// CLI) rejects such a block when it fills the frame's maximum block size,
// which every block but the last of a 64 KiB-block frame does. So blocks are
// compressed here, each on its own; decompression stays with lz4js, which
// reads any valid frame.
const LZ4_MAGIC = 0x184d2204;
const LZ4_FLG = 0x40 | 0x20; // version 01 | block independence
const LZ4_BD = 4 << 4; // block maximum size 64 KiB
const LZ4_BLOCK_BYTES = 64 * 1024;
const LZ4_UNCOMPRESSED = 0x80000000;
const LZ4_MIN_MATCH = 4;
const LZ4_LAST_LITERALS = 5; // the last 5 bytes of a block are literals
const LZ4_MFLIMIT = 12; // the last match starts at least 12 bytes before the end
const LZ4_HASH_LOG = 16;
const lz4Table = new Int32Array(1 << LZ4_HASH_LOG);
const lz4Out = Buffer.alloc(LZ4_BLOCK_BYTES + Math.ceil(LZ4_BLOCK_BYTES / 255) + 16);

function read32(src: Uint8Array, i: number): number {
  return (src[i]! | (src[i + 1]! << 8) | (src[i + 2]! << 16) | (src[i + 3]! << 24)) >>> 0;
}

/** Writes the rest of a length >= 15 as LZ4 does (255, 255, ..., < 255); returns the new output position. */
function writeLength(out: Uint8Array, o: number, rest: number): number {
  for (; rest >= 255; rest -= 255) out[o++] = 255;
  out[o++] = rest;
  return o;
}

/** One sequence: literals src[anchor, literalEnd), then a match (none when matchLength is 0). */
function writeSequence(
  src: Uint8Array,
  out: Uint8Array,
  o: number,
  anchor: number,
  literalEnd: number,
  matchLength: number,
  offset: number,
): number {
  const literals = literalEnd - anchor;
  const ml = matchLength - LZ4_MIN_MATCH;
  out[o++] = (Math.min(literals, 15) << 4) | (matchLength === 0 ? 0 : Math.min(ml, 15));
  if (literals >= 15) o = writeLength(out, o, literals - 15);
  out.set(src.subarray(anchor, literalEnd), o);
  o += literals;
  if (matchLength === 0) return o;
  out[o++] = offset & 0xff;
  out[o++] = offset >>> 8;
  if (ml >= 15) o = writeLength(out, o, ml - 15);
  return o;
}

/** Greedy LZ4 block compression of `src` (at most 64 KiB) into lz4Out; returns the compressed length. */
function lz4CompressBlock(src: Uint8Array): number {
  const n = src.length;
  const out = lz4Out;
  let o = 0;
  let anchor = 0;
  if (n > LZ4_MFLIMIT) {
    lz4Table.fill(-1);
    const lastMatchStart = n - LZ4_MFLIMIT;
    const matchEndLimit = n - LZ4_LAST_LITERALS;
    let ip = 0;
    while (ip <= lastMatchStart) {
      const seq = read32(src, ip);
      const h = Math.imul(seq, 2654435761) >>> (32 - LZ4_HASH_LOG);
      const ref = lz4Table[h]!;
      lz4Table[h] = ip;
      if (ref < 0 || ip - ref > 0xffff || read32(src, ref) !== seq) {
        ip += 1 + ((ip - anchor) >>> 6); // skip faster through incompressible data
        continue;
      }
      let start = ip;
      let from = ref;
      while (start > anchor && from > 0 && src[start - 1] === src[from - 1]) {
        start--;
        from--;
      }
      let end = ip + LZ4_MIN_MATCH;
      while (end < matchEndLimit && src[end] === src[end - ip + ref]) end++;
      o = writeSequence(src, out, o, anchor, start, end - start, ip - ref);
      anchor = ip = end;
    }
  }
  return writeSequence(src, out, o, anchor, n, 0, 0);
}

export function lz4Frame(input: Uint8Array): Buffer {
  const header = Buffer.alloc(7);
  header.writeUInt32LE(LZ4_MAGIC, 0);
  header[4] = LZ4_FLG;
  header[5] = LZ4_BD;
  header[6] = (xxh32.hash(0, header, 4, 2) >>> 8) & 0xff;
  const parts: Buffer[] = [header];
  for (let start = 0; start < input.length; start += LZ4_BLOCK_BYTES) {
    const block = input.subarray(start, Math.min(start + LZ4_BLOCK_BYTES, input.length));
    const size = lz4CompressBlock(block);
    const blockHeader = Buffer.alloc(4);
    if (size < block.length) {
      blockHeader.writeUInt32LE(size, 0);
      parts.push(blockHeader, Buffer.from(lz4Out.subarray(0, size)));
    } else {
      blockHeader.writeUInt32LE((LZ4_UNCOMPRESSED | block.length) >>> 0, 0);
      parts.push(blockHeader, Buffer.from(block));
    }
  }
  parts.push(Buffer.alloc(4)); // end mark
  return Buffer.concat(parts);
}

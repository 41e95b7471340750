// The compression codecs of record batch v2, as plain functions over
// buffers: shared by the kafkajs registration (codecs.ts) and the native
// producer (native/), so each codec exists once. Pure JavaScript or Node's
// own zlib, so nothing native has to compile in the image:
// - gzip: node:zlib;
// - snappy: snappyjs, raw snappy blocks (the broker's xerial reader accepts
//   raw blocks; framed xerial input is unwrapped on decompression);
// - lz4: the LZ4 frame format Kafka uses for record batch v2, compressed
//   here (lz4-frame.ts: lz4js's compressor is rejected by the broker) and
//   decompressed by lz4js;
// - zstd: node:zlib (Node >= 22.15).
// zlib codecs run on libuv's thread pool, so compressing one batch overlaps
// with the event loop's other work.

import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { CompressionName } from '../config/config.ts';
import { lz4Frame } from './lz4-frame.ts';

const require = createRequire(import.meta.url);
type Snappy = { compress(b: Uint8Array): Uint8Array; uncompress(b: Uint8Array): Uint8Array };
type Lz4 = { decompress(b: Uint8Array): Uint8Array };
// Loaded on first use: most agents never compress with snappy or read lz4.
let snappyModule: Snappy | undefined;
let lz4Module: Lz4 | undefined;
const snappy = (): Snappy => (snappyModule ??= require('snappyjs') as Snappy);
const lz4 = (): Lz4 => (lz4Module ??= require('lz4js') as Lz4);

// xerial snappy-java framing: magic, version, compatible version, then
// (length, block) pairs. The Java client writes it; consumers of our own
// test topics may meet it.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

export function snappyUncompress(buffer: Buffer): Buffer {
  if (buffer.length >= 16 && buffer.subarray(0, 8).equals(XERIAL_MAGIC)) {
    const blocks: Buffer[] = [];
    let pos = 16;
    while (pos + 4 <= buffer.length) {
      const size = buffer.readUInt32BE(pos);
      pos += 4;
      blocks.push(toBuffer(snappy().uncompress(buffer.subarray(pos, pos + size))));
      pos += size;
    }
    return Buffer.concat(blocks);
  }
  return toBuffer(snappy().uncompress(buffer));
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.length);
}

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);
const zstdCompress = promisify(zlib.zstdCompress);
const zstdDecompress = promisify(zlib.zstdDecompress);

export type CompressedCodec = Exclude<CompressionName, 'none'>;

/** The codec id in a record batch's attributes (low 3 bits). */
export const CODEC_IDS: Record<CompressionName, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

export async function compress(codec: CompressedCodec, input: Buffer): Promise<Buffer> {
  switch (codec) {
    case 'gzip':
      return gzip(input);
    case 'snappy':
      return toBuffer(snappy().compress(input));
    case 'lz4':
      return lz4Frame(input);
    case 'zstd':
      return zstdCompress(input);
  }
}

export async function decompress(codec: CompressedCodec, input: Buffer): Promise<Buffer> {
  switch (codec) {
    case 'gzip':
      return gunzip(input);
    case 'snappy':
      return snappyUncompress(input);
    case 'lz4':
      return toBuffer(lz4().decompress(input));
    case 'zstd':
      return zstdDecompress(input);
  }
}

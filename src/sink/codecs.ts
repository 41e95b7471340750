// Compression codecs for kafkajs beyond its built-in gzip. Pure JavaScript or
// Node's own zlib, so nothing native has to compile in the image:
// - snappy: snappyjs, raw snappy blocks (the broker's xerial reader accepts
//   raw blocks; framed xerial input is unwrapped on decompression);
// - lz4: the LZ4 frame format Kafka uses for record batch v2, compressed
//   here (lz4-frame.ts: lz4js's compressor is rejected by the broker) and
//   decompressed by lz4js;
// - zstd: node:zlib (Node >= 22.15).

import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { CompressionTypes as CompressionType } from 'kafkajs';
import kafkajs from './kafkajs.ts';
import { lz4Frame } from './lz4-frame.ts';
import type { CompressionName } from '../config/config.ts';

// kafkajs is CommonJS; CompressionCodecs is not among its named ESM exports.
const { CompressionCodecs, CompressionTypes } = kafkajs;
const require = createRequire(import.meta.url);
const snappy = require('snappyjs') as { compress(b: Buffer): Buffer; uncompress(b: Buffer): Buffer };
const lz4 = require('lz4js') as { decompress(b: Uint8Array): Uint8Array };

interface Encoder {
  buffer: Buffer;
}

type Codec = () => { compress(encoder: Encoder): Promise<Buffer>; decompress(buffer: Buffer): Promise<Buffer> };

// xerial snappy-java framing: magic, version, compatible version, then
// (length, block) pairs. The Java client writes it; kafkajs consumers of our
// own test topics may meet it.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

function snappyUncompress(buffer: Buffer): Buffer {
  if (buffer.length >= 16 && buffer.subarray(0, 8).equals(XERIAL_MAGIC)) {
    const blocks: Buffer[] = [];
    let pos = 16;
    while (pos + 4 <= buffer.length) {
      const size = buffer.readUInt32BE(pos);
      pos += 4;
      blocks.push(snappy.uncompress(buffer.subarray(pos, pos + size)));
      pos += size;
    }
    return Buffer.concat(blocks);
  }
  return snappy.uncompress(buffer);
}

const snappyCodec: Codec = () => ({
  compress: async (encoder) => snappy.compress(encoder.buffer),
  decompress: async (buffer) => snappyUncompress(buffer),
});

const lz4Codec: Codec = () => ({
  compress: async (encoder) => lz4Frame(encoder.buffer),
  decompress: async (buffer) => Buffer.from(lz4.decompress(buffer)),
});

const zstdCompress = promisify(zlib.zstdCompress);
const zstdDecompress = promisify(zlib.zstdDecompress);

const zstdCodec: Codec = () => ({
  compress: async (encoder) => zstdCompress(encoder.buffer),
  decompress: async (buffer) => zstdDecompress(buffer),
});

let registered = false;

/** Registers the codecs with kafkajs (process-wide in kafkajs; idempotent). */
export function registerCodecs(): void {
  if (registered) return;
  const codecs = CompressionCodecs as Record<number, Codec>;
  codecs[CompressionTypes.Snappy] = snappyCodec;
  codecs[CompressionTypes.LZ4] = lz4Codec;
  codecs[CompressionTypes.ZSTD] = zstdCodec;
  registered = true;
}

export function compressionType(name: CompressionName): CompressionType {
  switch (name) {
    case 'none':
      return CompressionTypes.None;
    case 'gzip':
      return CompressionTypes.GZIP;
    case 'snappy':
      return CompressionTypes.Snappy;
    case 'lz4':
      return CompressionTypes.LZ4;
    case 'zstd':
      return CompressionTypes.ZSTD;
  }
}

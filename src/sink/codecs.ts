// Compression codecs for kafkajs beyond its built-in gzip: the shared
// implementations of compression.ts (snappy, lz4, zstd), registered in
// kafkajs's codec table.

import type { CompressionTypes as CompressionType } from 'kafkajs';
import kafkajs from './kafkajs.ts';
import { compress, decompress } from './compression.ts';
import type { CompressionName } from '../config/config.ts';

// kafkajs is CommonJS; CompressionCodecs is not among its named ESM exports.
const { CompressionCodecs, CompressionTypes } = kafkajs;

interface Encoder {
  buffer: Buffer;
}

type Codec = () => { compress(encoder: Encoder): Promise<Buffer>; decompress(buffer: Buffer): Promise<Buffer> };

const snappyCodec: Codec = () => ({
  compress: async (encoder) => compress('snappy', encoder.buffer),
  decompress: async (buffer) => decompress('snappy', buffer),
});

const lz4Codec: Codec = () => ({
  compress: async (encoder) => compress('lz4', encoder.buffer),
  decompress: async (buffer) => decompress('lz4', buffer),
});

const zstdCodec: Codec = () => ({
  compress: async (encoder) => compress('zstd', encoder.buffer),
  decompress: async (buffer) => decompress('zstd', buffer),
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

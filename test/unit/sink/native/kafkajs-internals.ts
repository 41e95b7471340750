// kafkajs's own encoders and decoders, the reference our codecs are checked
// against byte for byte. Loaded after src/sink/kafkajs.ts (which must see
// kafkajs first), through require, since they are internal modules.

import { createRequire } from 'node:module';
import '../../../../src/sink/kafkajs.ts';
import { registerCodecs } from '../../../../src/sink/codecs.ts';

registerCodecs();
const require = createRequire(import.meta.url);

interface KafkajsRequest {
  encode(): Promise<{ buffer: Buffer }>;
}

export const kafkajsCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
export const kafkajsProduceV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (args: unknown) => KafkajsRequest;
export const kafkajsMetadataV4 = require('kafkajs/src/protocol/requests/metadata/v4/request.js') as (args: unknown) => KafkajsRequest;
export const kafkajsCreateTopicsV2 = require('kafkajs/src/protocol/requests/createTopics/v2/request.js') as (
  args: unknown,
) => KafkajsRequest;
export const kafkajsInitProducerIdV0 = require('kafkajs/src/protocol/requests/initProducerId/v0/request.js') as (
  args: unknown,
) => KafkajsRequest;
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown;
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (d: unknown) => Promise<KafkajsBatch>;
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: number): unknown };

export interface KafkajsBatch {
  firstTimestamp: string;
  maxTimestamp: string;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  lastOffsetDelta: number;
  records: Array<{ key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer>; timestamp: string; offset: string }>;
}

/** Decodes one record batch with kafkajs's decoder (any codec). */
export function kafkajsDecodeBatch(batch: Buffer): Promise<KafkajsBatch> {
  return decodeBatch(new Decoder(batch));
}

export function long(v: number): unknown {
  return Long.fromValue(v);
}

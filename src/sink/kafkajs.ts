// The single place kafkajs is loaded (a lint rule keeps every other module
// out of it). Three of its internals are replaced here, before kafkajs's own
// modules are evaluated, which is why package.json pins kafkajs to exactly
// 2.2.4; verifyKafkajsPatches() proves at start-up that each replacement
// is the code in use, and the agent refuses to run otherwise.
//
// 1. Batch grouping. kafkajs groups a batch by partition with
//    `[...current, message]` per message (producer/groupMessagesPerPartition.js),
//    quadratic in the batch size: measured 51-68 ms per batch of 5,000
//    messages, against 0.1-0.7 ms for a linear version with the same result.
//    That version is put in require's cache first, so sendMessages.js picks
//    it up.
// 2. Record encoding. kafkajs's per-record encoder is replaced by one that
//    writes a record in one pass into one buffer (record-encoder.ts), same
//    bytes (property-tested).
// 3. The request queue's idle loop. RequestQueue.scheduleCheckPendingRequests
//    re-arms a timer after every check even when nothing is pending, at
//    `throttledUntil - now`, which is negative once a throttle is over: Node
//    clamps that to 1 ms, so a connection that once queued a request then
//    wakes the process a thousand times a second forever (most of the idle
//    agent's 7% CPU, and the source of Node 24's TimeoutNegativeWarning).
//    The replacement arms the timer only while requests are pending, never
//    below kafkajs's own 10 ms check interval.

import { createRequire, Module } from 'node:module';
import { KafkajsPatchError } from '../errors.ts';
import { createRecordEncoder } from './record-encoder.ts';

const require = createRequire(import.meta.url);

type Partitioner = (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;

function groupMessagesPerPartition(args: {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: Partitioner;
}): Record<number, unknown[]> {
  const { topic, partitionMetadata, messages, partitioner } = args;
  const result: Record<number, unknown[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}

const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
}

function scheduleCheckPendingRequests(this: RequestQueueLike): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const delay = Math.max(CHECK_PENDING_REQUESTS_INTERVAL_MS, this.throttledUntil - Date.now());
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delay);
}

const paths = {
  index: require.resolve('kafkajs'),
  group: require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js'),
  sendMessages: require.resolve('kafkajs/src/producer/sendMessages.js'),
  record: require.resolve('kafkajs/src/protocol/recordBatch/record/v0/index.js'),
  produceV3: require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js'),
  requestQueue: require.resolve('kafkajs/src/network/requestQueue/index.js'),
};

/** kafkajs modules other than the ones we replace, loaded before this module ran: their copies captured the originals. */
const loadedEarly = Object.keys(require.cache).filter(
  (p) => p.includes(`${'/kafkajs/src/'}`) && p !== paths.group && p !== paths.record && p !== paths.requestQueue,
);

if (!require.cache[paths.group]) {
  const patched = new Module(paths.group);
  patched.filename = paths.group;
  patched.loaded = true;
  patched.exports = groupMessagesPerPartition;
  require.cache[paths.group] = patched;
}

let recordEncoderCalls = 0;
const recordModule = require.cache[paths.record];
if (!recordModule || !(recordModule.exports as { logagent?: boolean }).logagent) {
  const original = require(paths.record) as Parameters<typeof createRecordEncoder>[0];
  const encode = createRecordEncoder(original);
  const encoder = Object.assign(
    (fields: Parameters<typeof encode>[0]) => {
      recordEncoderCalls++;
      return encode(fields);
    },
    { logagent: true, original },
  );
  const cached = require.cache[paths.record];
  if (cached) cached.exports = encoder;
}

const RequestQueue = require(paths.requestQueue) as { prototype: { scheduleCheckPendingRequests: unknown } };
RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;

const kafkajs = require('kafkajs') as typeof import('kafkajs');
export default kafkajs;

/**
 * Proves that each replacement is the code kafkajs runs: the grouping module
 * is the one sendMessages loaded, the record encoder is what the produce
 * request actually calls (a request is encoded here and the calls counted),
 * and the request queue's scheduler is ours. Throws a KafkajsPatchError
 * naming every one that is not.
 */
export async function verifyKafkajsPatches(): Promise<void> {
  const failed: string[] = [];
  if (loadedEarly.length > 0)
    failed.push(`kafkajs was loaded before src/sink/kafkajs.ts (${loadedEarly.length} modules, e.g. ${loadedEarly[0]})`);

  const group = require.cache[paths.group];
  const sendMessages = require.cache[paths.sendMessages];
  if (group?.exports !== groupMessagesPerPartition || !sendMessages?.children.includes(group)) {
    failed.push(`batch grouping (${paths.group}) is not the linear replacement used by sendMessages.js`);
  }

  const before = recordEncoderCalls;
  try {
    const produce = require(paths.produceV3) as (args: unknown) => { encode(): Promise<unknown> };
    await produce({
      acks: -1,
      timeout: 1000,
      topicData: [{ topic: 'verify', partitions: [{ partition: 0, firstSequence: 0, messages: [{ key: 'k', value: 'v' }] }] }],
    }).encode();
  } catch (err) {
    failed.push(`record encoder check could not encode a produce request: ${(err as Error).message}`);
  }
  if (recordEncoderCalls === before) failed.push(`record encoder (${paths.record}) is not the one-pass replacement`);

  if (RequestQueue.prototype.scheduleCheckPendingRequests !== scheduleCheckPendingRequests) {
    failed.push(`request queue scheduler (${paths.requestQueue}) is not the idle-safe replacement`);
  }
  if (failed.length > 0) {
    throw new KafkajsPatchError(
      `kafkajs internals are not the ones this build replaces (kafkajs must be exactly 2.2.4 and loaded only through src/sink/kafkajs.ts): ${failed.join('; ')}`,
    );
  }
}

// The single place kafkajs is loaded. Three process-wide adjustments happen
// here, before kafkajs's own modules are evaluated. The first two replace
// internal modules, which is why package.json pins kafkajs to exactly 2.2.4.
//
// 1. kafkajs groups a batch by partition with `[...current, message]` per
//    message (producer/groupMessagesPerPartition.js), which is quadratic in
//    the batch size: measured 51-68 ms per batch of 5,000 messages (a 1 MiB
//    batch of 200-byte lines), against 0.1-0.7 ms for a linear version with
//    the same result. That version is put in require's cache first, so
//    kafkajs's sendMessages picks it up.
// 2. kafkajs's per-record encoder is replaced by one that writes a record in
//    one pass into one buffer (see record-encoder.ts), same bytes.
// 3. On Node >= 24 kafkajs schedules timers with negative delays, which Node
//    clamps to 1 ms (what kafkajs relied on) while printing a
//    TimeoutNegativeWarning. Harmless, so it is kept out of operators' logs;
//    every other warning is still printed.

import { createRequire, Module } from 'node:module';
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

const groupPath = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
if (!require.cache[groupPath]) {
  const patched = new Module(groupPath);
  patched.filename = groupPath;
  patched.loaded = true;
  patched.exports = groupMessagesPerPartition;
  require.cache[groupPath] = patched;
}

const recordPath = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/index.js');
const recordModule = require.cache[recordPath];
if (!recordModule || !(recordModule.exports as { logagent?: boolean }).logagent) {
  const original = require(recordPath) as Parameters<typeof createRecordEncoder>[0];
  const encoder = Object.assign(createRecordEncoder(original), { logagent: true, original });
  const cached = require.cache[recordPath];
  if (cached) cached.exports = encoder;
}

installWarningFilter();

function installWarningFilter(): void {
  const marker = Symbol.for('logagent.warningFilter');
  const proc = process as NodeJS.Process & { [marker]?: boolean };
  if (proc[marker]) return;
  proc[marker] = true;
  // Node prints warnings from its own 'warning' listener; replace it with one
  // that prints the same way minus the one kafkajs causes.
  const defaults = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return;
    for (const listener of defaults) listener(warning);
  });
}

const kafkajs = require('kafkajs') as typeof import('kafkajs');
export default kafkajs;

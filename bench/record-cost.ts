// What a line and a read batch cost on the heap while in flight, beyond the
// line's own bytes: the figures behind LINE_COST_BYTES and BATCH_COST_BYTES
// in src/budget.ts. Builds batches the way a reader does (a read buffer, a
// LineBatch with its two offset arrays, an ack-tracker entry, a sink queue
// slot) and measures heapUsed before and after, with GC forced.
//
//   node --expose-gc bench/record-cost.ts
//
// Lines per batch vary: a 256 KiB read of 200-byte lines holds ~1,300 lines;
// a read of empty lines up to 256 Ki of them; a partial or over-long line is
// a batch of one.

import { AckTracker } from '../src/checkpoint/ack-tracker.ts';
import { LineSplitter } from '../src/input/line-splitter.ts';
import { LineBatch, type BatchOwner } from '../src/sink/line-batch.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const owner: BatchOwner = { onBatchAcked: () => undefined };

function measure(batches: number, linesPerBatch: number, lineBytes: number): { perLine: number; perBatch: number } {
  const line = `${'x'.repeat(lineBytes)}\n`;
  const chunkText = line.repeat(linesPerBatch);
  gc?.();
  gc?.();
  const before = process.memoryUsage();
  const tracker = new AckTracker(0);
  const queue: LineBatch[] = [];
  let offset = 0;
  for (let b = 0; b < batches; b++) {
    const chunk = Buffer.from(chunkText);
    const splitter = new LineSplitter(1_000_000, offset);
    for (const run of splitter.push(chunk)) {
      const end = run.bufferOffset + (run.nexts[run.nexts.length - 1] ?? run.first);
      queue.push(
        new LineBatch({
          owner,
          seq: tracker.issue(end),
          identity: '1:2',
          topic: 't',
          key: '/var/log/app/access.log',
          buffer: run.buffer,
          bufferOffset: run.bufferOffset,
          first: run.first,
          ends: run.ends,
          nexts: run.nexts,
          truncated: run.truncated,
          chargedBytes: 0,
          readAt: Date.now(),
        }),
      );
    }
    offset += chunk.length;
  }
  gc?.();
  gc?.();
  const after = process.memoryUsage();
  const total = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
  const lineBytesTotal = batches * linesPerBatch * line.length;
  const overhead = total - lineBytesTotal;
  if (queue.length !== batches) throw new Error('unexpected batch count');
  return { perLine: overhead / (batches * linesPerBatch), perBatch: overhead / batches };
}

const cases: Array<[number, number, number]> = [
  [2_000, 1, 0],
  [2_000, 1, 200],
  [200, 1_000, 0],
  [200, 1_000, 200],
  [20, 100_000, 0],
];
console.log('batches  lines/batch  line bytes  overhead/line  overhead/batch');
for (const [batches, lines, bytes] of cases) {
  const { perLine, perBatch } = measure(batches, lines, bytes);
  console.log(
    `${String(batches).padStart(7)}  ${String(lines).padStart(11)}  ${String(bytes).padStart(10)}  ${perLine.toFixed(1).padStart(13)}  ${perBatch.toFixed(0).padStart(14)}`,
  );
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { javaPartition } from '../../../../src/sink/murmur2.ts';
import { LinePartitioner } from '../../../../src/sink/native/partitioning.ts';
import { lineOf } from '../../../../src/sink/native/record-batch.ts';
import { lineBatches, RecordingOwner } from '../../../support/line-batches.ts';

const batch = (n: number, key: string | null = 'app.log') =>
  lineBatches(
    Array.from({ length: n }, (_, i) => `l${i}`),
    { topic: 't', owner: new RecordingOwner(), linesPerBatch: n, key },
  )[0]!;

test('hash puts a whole batch on the partition Java’s producer picks for its key; manual on the configured one', () => {
  const p = new LinePartitioner('hash', 0);
  for (const key of ['/var/log/app.log', 'ü', '']) {
    const placed = p.place(batch(10, key), 7);
    assert.deepEqual(
      placed.map((x) => [x.partition, x.slice.from, x.slice.to, x.slice.lines]),
      [[javaPartition(Buffer.from(key), 7), 0, 10, null]],
    );
  }
  assert.equal(new LinePartitioner('manual', 5).place(batch(3), 7)[0]?.partition, 5);
});

test('hash spreads batches without a key over every partition, a whole batch at a time (key: none)', () => {
  const p = new LinePartitioner('hash', 0);
  const used = Array.from({ length: 14 }, () => {
    const placed = p.place(batch(3, null), 7);
    assert.equal(placed.length, 1, 'one batch, one partition');
    return placed[0]!.partition;
  });
  assert.deepEqual(
    [...new Set(used)].sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6],
  );
});

test('round-robin and random place every line exactly once, in order within each partition; round-robin continues across batches', () => {
  fc.assert(
    fc.property(
      fc.constantFrom('round-robin' as const, 'random' as const),
      fc.integer({ min: 1, max: 300 }),
      fc.integer({ min: 1, max: 12 }),
      (name, n, partitions) => {
        const p = new LinePartitioner(name, 0);
        const b = batch(n);
        const seen: number[] = [];
        for (const { partition, slice } of p.place(b, partitions)) {
          assert.ok(partition >= 0 && partition < partitions);
          let last = -1;
          for (let k = slice.from; k < slice.to; k++) {
            const i = lineOf(slice, k);
            assert.ok(i > last, 'in order within a partition');
            last = i;
            seen.push(i);
            if (name === 'round-robin') assert.equal(partition, i % partitions);
          }
        }
        assert.deepEqual(
          seen.sort((x, y) => x - y),
          Array.from({ length: n }, (_, i) => i),
        );
      },
    ),
  );
  const rr = new LinePartitioner('round-robin', 0);
  rr.place(batch(2), 3);
  assert.equal(rr.place(batch(1), 3)[0]?.partition, 2, 'the next line takes the next partition');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AckTracker } from '../../../src/checkpoint/ack-tracker.ts';

test('the committed offset stays at the start until the first line is acknowledged', () => {
  const t = new AckTracker(100);
  const a = t.issue(110);
  const b = t.issue(120);
  assert.equal(t.committedOffset, 100);
  t.ack(b);
  assert.equal(t.committedOffset, 100, 'a gap before b holds the checkpoint back');
  t.ack(a);
  assert.equal(t.committedOffset, 120);
  assert.equal(t.pendingCount, 0);
});

test('acks of unknown or repeated sequence numbers change nothing', () => {
  const t = new AckTracker(0);
  const a = t.issue(5);
  assert.equal(t.ack(a + 10), false);
  assert.equal(t.ack(a), true);
  assert.equal(t.ack(a), false);
  assert.equal(t.committedOffset, 5);
});

test('line ends must not go backwards', () => {
  const t = new AckTracker(50);
  assert.throws(() => t.issue(40), RangeError);
});

test('property: in any ack order the committed offset is the end of the longest acknowledged prefix', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 3000 }),
      fc.infiniteStream(fc.nat()),
      (lengths, picks) => {
        const t = new AckTracker(0);
        const ends: number[] = [];
        let end = 0;
        for (const len of lengths) {
          end += len + 1;
          ends.push(end);
          t.issue(end);
        }
        const order = lengths.map((_, i) => i);
        const it = picks[Symbol.iterator]();
        for (let i = order.length - 1; i > 0; i--) {
          const j = (it.next().value as number) % (i + 1);
          [order[i], order[j]] = [order[j] as number, order[i] as number];
        }
        const acked = new Set<number>();
        for (const seq of order) {
          t.ack(seq);
          acked.add(seq);
          let prefix = 0;
          while (acked.has(prefix)) prefix++;
          assert.equal(t.committedOffset, prefix === 0 ? 0 : ends[prefix - 1]);
        }
        assert.equal(t.pendingCount, 0);
      },
    ),
    { numRuns: 200 },
  );
});

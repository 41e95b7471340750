// The retry and sequence state machine of one partition against a model of
// the broker's rules (Kafka's ProducerAppendInfo: epoch and last sequence
// per producer id, the last 5 batches de-duplicated, any sequence accepted
// from a producer id it holds no state for) behind a fake connection that
// answers in order, loses requests before or after the broker appended
// them, refuses batches (not leader, too large) and forgets producer state
// (after a long idle time, as the broker does). Random schedules
// (fast-check); the checks: no line lost, first arrivals in order, no
// duplicate with idempotence, and a batch is acknowledged only after the
// broker appended all its lines.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PartitionState, RECONFIRM_AFTER_MS, type Outcome, type WireBatch } from '../../../../src/sink/native/partition-state.ts';
import { lineOf, type Stamp } from '../../../../src/sink/native/record-batch.ts';
import { lineBatches, RecordingOwner } from '../../../support/line-batches.ts';

type Fault = 'ok' | 'not-leader' | 'drop-before' | 'drop-after' | 'connection-lost' | 'forget-state' | 'too-large';

const FAULTS: Fault[] = ['ok', 'ok', 'ok', 'ok', 'not-leader', 'drop-before', 'drop-after', 'connection-lost', 'forget-state', 'too-large'];

interface Sent {
  readonly wb: WireBatch;
  readonly stamp: Stamp;
  readonly lines: number[];
}

/** Kafka's broker, for one partition: what it appends and what it answers. */
class BrokerModel {
  readonly log: number[] = [];
  private readonly producers = new Map<number, { epoch: number; lastSeq: number; recent: Array<[number, number]> }>();
  tooLargeAbove = 8;

  forget(): void {
    this.producers.clear();
  }

  /** Returns the error name, or 'ok' / 'duplicate'. */
  append(s: Sent, idempotent: boolean): 'ok' | 'duplicate' | 'out-of-order' | 'invalid-epoch' | 'too-large' {
    if (s.lines.length > this.tooLargeAbove) return 'too-large';
    if (!idempotent) {
      this.log.push(...s.lines);
      return 'ok';
    }
    const { producerId, producerEpoch: epoch, baseSequence: first } = s.stamp;
    const last = (first + s.lines.length - 1) % 2 ** 31;
    const state = this.producers.get(producerId);
    if (state) {
      if (epoch < state.epoch) return 'invalid-epoch';
      if (epoch === state.epoch && state.recent.some(([f, l]) => f === first && l === last)) return 'duplicate';
      if (epoch > state.epoch ? first !== 0 : first !== (state.lastSeq + 1) % 2 ** 31) return 'out-of-order';
    }
    const recent =
      state && state.epoch === epoch ? [...state.recent, [first, last] as [number, number]].slice(-5) : [[first, last] as [number, number]];
    this.producers.set(producerId, { epoch, lastSeq: last, recent });
    this.log.push(...s.lines);
    return 'ok';
  }
}

export function run(
  idempotent: boolean,
  faults: Fault[],
  choices: number[],
  lines: number,
  perBatch: number,
  trace?: (s: string) => void,
): void {
  const owner = new RecordingOwner();
  const batches = lineBatches(
    Array.from({ length: lines }, (_, i) => `line-${i}`),
    { topic: 't', owner, linesPerBatch: perBatch },
  );
  const p = new PartitionState('t', 0, idempotent);
  p.leader = 0;
  let now = 1_000_000;
  for (const b of batches) p.enqueue({ batch: b, from: 0, to: b.count, lines: null }, b.count * 10, now);
  const broker = new BrokerModel();
  let producerId = 1000;
  let forgot = false;
  const wire: Sent[] = [];
  const appended = new Set<number>();
  let step = 0;
  let answers = 0;
  const settle = (s: Sent, outcome: Outcome): void => {
    const effects = p.settle(s.wb, outcome, now, () => 10);
    if (effects.needsProducerId) producerId++;
    for (const done of effects.acked) {
      for (const sl of done.slices) {
        for (let k = sl.from; k < sl.to; k++) {
          const n = Number(sl.batch.value(lineOf(sl, k)).toString().slice(5));
          assert.ok(appended.has(n), `line ${n} acknowledged before the broker appended it`);
        }
        sl.batch.ackedLines += sl.to - sl.from;
        if (sl.batch.ackedLines === sl.batch.count) owner.onBatchAcked(sl.batch);
      }
    }
  };
  const answer = (s: Sent, fault: Fault): void => {
    trace?.(`answer ${JSON.stringify(s.stamp)} lines ${s.lines.join(',')} fault ${fault}`);
    if (fault === 'not-leader' || fault === 'drop-before') return settle(s, { kind: 'retry', backoff: true });
    const result = broker.append(s, idempotent);
    if (result === 'ok') for (const n of s.lines) appended.add(n);
    trace?.(`  broker: ${result}`);
    if (fault === 'drop-after') return settle(s, { kind: 'retry', backoff: true });
    if (result === 'ok' || result === 'duplicate') return settle(s, { kind: 'acked' });
    if (result === 'too-large') return settle(s, { kind: 'too-large' });
    if (result === 'out-of-order') return settle(s, idempotent ? { kind: 'out-of-order' } : { kind: 'retry', backoff: true });
    return settle(s, { kind: 'producer-id' });
  };
  while (owner.ackedLines < lines) {
    assert.ok(step++ < 20_000, 'delivery makes progress');
    now += 5;
    const choice = choices[step % choices.length] ?? 0;
    // The broker drops a producer's state only after producer.id.expiration.ms (a day) without a write
    // from it: modelled as an idle partition (nothing unacknowledged), a long pause, and the state gone.
    // (A batch of unknown fate retried after such a pause, i.e. a broker down for a day, may be written
    // twice: at least once still holds.)
    if (wire.length === 0 && p.pendingBatches.length === 0 && faults[step % faults.length] === 'forget-state' && !forgot) {
      broker.forget();
      forgot = true;
      now += RECONFIRM_AFTER_MS + 1;
    }
    const wb = choice % 3 !== 0 || wire.length === 0 ? p.next(now, 10 * perBatch * 3, true, producerId, 0) : undefined;
    if (wb) {
      if (wb.records > broker.tooLargeAbove && wb.records > 1 && step % 7 === 0) broker.tooLargeAbove = wb.records - 1;
      p.markSent(wb, 0);
      const sent: Sent = { wb, stamp: wb.stamp, lines: [] };
      for (const sl of wb.slices)
        for (let k = sl.from; k < sl.to; k++) sent.lines.push(Number(sl.batch.value(lineOf(sl, k)).toString().slice(5)));
      wire.push(sent);
      trace?.(
        `send ${JSON.stringify(wb.stamp)} lines ${sent.lines.join(',')} unacked ${p.unacked.map((u) => u.stamp.baseSequence + (u.inflight ? '*' : '')).join(' ')}`,
      );
      continue;
    }
    const head = wire.shift();
    if (!head) {
      now += 20; // in backoff
      continue;
    }
    // Faults cycle for a while, then the network heals (a fault list without 'ok' would never deliver).
    const fault = answers++ < 300 ? (faults[answers % faults.length] ?? 'ok') : 'ok';
    if (fault === 'connection-lost') {
      // The broker processed a prefix of what was in flight; every request on the connection fails.
      const processed = [head, ...wire.splice(0)];
      const k = choice % (processed.length + 1);
      processed.forEach((s, i) => {
        if (i < k && broker.append(s, idempotent) === 'ok') for (const n of s.lines) appended.add(n);
        settle(s, { kind: 'retry', backoff: true });
      });
      continue;
    }
    answer(head, fault);
  }
  // No line lost, first arrivals in order, duplicates only when the broker forgot us (or without idempotence).
  const firsts: number[] = [];
  const seen = new Set<number>();
  let dups = 0;
  for (const n of broker.log) {
    if (seen.has(n)) dups++;
    else {
      seen.add(n);
      firsts.push(n);
    }
  }
  assert.deepEqual(
    firsts,
    Array.from({ length: lines }, (_, i) => i),
    'every line, first arrivals in order',
  );
  if (idempotent) assert.equal(dups, 0, 'no duplicate');
  assert.equal(owner.acked.length, batches.length, 'every batch acknowledged once');
}

for (const idempotent of [true, false]) {
  test(`${idempotent ? 'idempotent, 5 in flight' : 'not idempotent, 1 in flight'}: through lost requests, refusals, lost connections and forgotten state, no line is lost or reordered`, () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...FAULTS), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(1000), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 1, max: 30 }),
        (faults, choices, lines, perBatch) => run(idempotent, faults, choices, lines, perBatch),
      ),
      { numRuns: 400 },
    );
  });
}

test('a failed batch holds back the partition until nothing is in flight, then batches go again in sequence order', () => {
  const owner = new RecordingOwner();
  const p = new PartitionState('t', 0, true);
  p.leader = 0;
  for (const b of lineBatches(['a', 'b', 'c', 'd'], { topic: 't', owner, linesPerBatch: 1 }))
    p.enqueue({ batch: b, from: 0, to: 1, lines: null }, 30, 0);
  const first = p.next(0, 30, true, 7, 0)!;
  p.markSent(first, 0);
  assert.equal(p.next(0, 30, true, 7, 0), undefined, 'one batch alone until the broker knows the producer id');
  p.settle(first, { kind: 'acked' }, 0, () => 0);
  const [b2, b3, b4] = [1, 2, 3].map(() => {
    const b = p.next(0, 30, true, 7, 0)!;
    p.markSent(b, 0);
    return b;
  });
  assert.deepEqual([b2!.stamp.baseSequence, b3!.stamp.baseSequence, b4!.stamp.baseSequence], [1, 2, 3]);
  p.settle(b2!, { kind: 'retry', backoff: false }, 0, () => 0);
  assert.equal(p.next(0, 30, true, 7, 0), undefined, 'nothing while b3 and b4 are in flight');
  p.settle(b3!, { kind: 'out-of-order' }, 0, () => 0);
  p.settle(b4!, { kind: 'out-of-order' }, 0, () => 0);
  const again = [1, 2, 3].map(() => {
    const b = p.next(0, 30, true, 7, 0)!;
    p.markSent(b, 0);
    return b.stamp;
  });
  assert.deepEqual(again, [b2!.stamp, b3!.stamp, b4!.stamp], 'resent in order with their stamps');
});

test('out of order on the oldest batch bumps the epoch and restamps from sequence 0; a bad producer id waits for a new one', () => {
  const owner = new RecordingOwner();
  const p = new PartitionState('t', 0, true);
  p.leader = 0;
  for (const b of lineBatches(['a', 'b', 'c'], { topic: 't', owner, linesPerBatch: 1 }))
    p.enqueue({ batch: b, from: 0, to: 1, lines: null }, 30, 0);
  const b1 = p.next(0, 30, true, 7, 3)!;
  p.markSent(b1, 0);
  p.settle(b1, { kind: 'acked' }, 0, () => 0);
  const b2 = p.next(0, 30, true, 7, 3)!;
  p.markSent(b2, 0);
  assert.deepEqual(b2.stamp, { producerId: 7, producerEpoch: 3, baseSequence: 1 });
  p.settle(b2, { kind: 'out-of-order' }, 0, () => 0);
  const again = p.next(0, 30, true, 7, 3)!;
  assert.equal(again, b2);
  assert.deepEqual(again.stamp, { producerId: 7, producerEpoch: 4, baseSequence: 0 });
  p.markSent(again, 0);
  const effects = p.settle(again, { kind: 'producer-id' }, 0, () => 0);
  assert.equal(effects.needsProducerId, true);
  assert.equal(p.needsProducerId(7), true);
  assert.equal(p.next(0, 30, true, 7, 4), undefined, 'waits for a new producer id');
  const fresh = p.next(0, 30, true, 8, 0)!;
  assert.deepEqual(fresh.stamp, { producerId: 8, producerEpoch: 0, baseSequence: 0 });
});

test('a batch refused as too large is split in two keeping its sequence range; a single line is cut to 75 %', () => {
  const owner = new RecordingOwner();
  const p = new PartitionState('t', 0, true);
  p.leader = 0;
  const [batch] = lineBatches(['a'.repeat(100), 'b'.repeat(100), 'c'.repeat(100)], { topic: 't', owner, linesPerBatch: 3 });
  p.enqueue({ batch: batch!, from: 0, to: 3, lines: null }, 400, 0);
  const wb = p.next(0, 10_000, true, 7, 0)!;
  p.markSent(wb, 0);
  const split = p.settle(wb, { kind: 'too-large' }, 0, () => 0);
  assert.equal(split.tooLarge?.split, true);
  assert.deepEqual(
    p.unacked.map((b) => [b.records, b.stamp.baseSequence]),
    [
      [2, 0],
      [1, 2],
    ],
  );
  const first = p.next(0, 10_000, true, 7, 0)!;
  p.markSent(first, 0);
  p.settle(first, { kind: 'acked' }, 0, () => 0);
  const single = p.next(0, 10_000, true, 7, 0)!;
  p.markSent(single, 0);
  const cut = p.settle(single, { kind: 'too-large' }, 0, () => 0);
  assert.deepEqual([cut.tooLarge?.split, cut.tooLarge?.bytes, cut.tooLarge?.keptBytes], [false, 100, 75]);
  assert.equal(batch!.value(2).toString(), 'c'.repeat(75));
  assert.equal(batch!.isTruncated(2), true);
});

// One partition's delivery state: lines queued for it, the record batches
// sent and not yet acknowledged, and (idempotent producer) its producer id,
// epoch and next sequence. Pure bookkeeping, no I/O, no timers: the
// producer asks it what to send next and tells it how each batch ended.
//
// Ordering (the reasoning, KIP-98 and the broker's ProducerAppendInfo):
// the broker keeps, per partition and producer id, the epoch and the last
// sequence it appended, and the last 5 batches. A batch is appended only if
// its first sequence follows the last one; a batch equal to one of the last
// 5 is answered as a success without being written again (a retry of a
// batch whose answer was lost); a gap is refused with
// OUT_OF_ORDER_SEQUENCE_NUMBER; a lower epoch with INVALID_PRODUCER_EPOCH;
// a higher epoch must start at sequence 0. The epoch and sequences are per
// partition on the broker, so each partition here keeps its own.
//
// So, with up to 5 batches of a partition in flight (B1..B5, consecutive
// sequences):
// 1. A batch is stamped (producer id, epoch, first sequence) once, when it
//    is made, and keeps that stamp on every retry: the broker de-duplicates
//    a retry of a batch it already has, whatever happened to the answer.
// 2. When Bi fails for any reason (error, timeout, connection lost), the
//    partition stops sending and waits until none of its batches is in
//    flight (the later ones fail as gaps or succeed, if Bi was written after
//    all). Then it sends the unacknowledged batches again, in sequence
//    order, to the current leader: they land in order or are de-duplicated.
//    New batches wait behind them, so a retry never overtakes. The broker
//    de-duplicates against its last 5 batches only, so no batch is sent
//    more than 4 batches after the oldest unacknowledged one (acknowledged
//    ones in between count): its retry must still find it there.
// 3. OUT_OF_ORDER_SEQUENCE_NUMBER on a batch that is not the oldest
//    unacknowledged one is that gap: retried as in 2, nothing else.
// 4. OUT_OF_ORDER_SEQUENCE_NUMBER on the oldest unacknowledged batch means
//    the broker's state and ours disagree (everything before it was
//    acknowledged, yet it does not follow). Nothing of ours after it can be
//    appended. Once nothing is in flight, the partition bumps its epoch
//    (the broker accepts a higher epoch starting at sequence 0) and
//    restamps its unacknowledged batches from 0, in order, as the Java
//    producer does for an idempotent-only producer (KIP-360). A batch whose
//    fate was unknown may then be written twice: at least once, never lost,
//    never reordered.
// 5. UNKNOWN_PRODUCER_ID, INVALID_PRODUCER_ID_MAPPING, INVALID_PRODUCER_EPOCH
//    and PRODUCER_FENCED mean our producer id (or epoch) is no longer good
//    for this partition: it waits for a fresh producer id (InitProducerId),
//    then restamps from sequence 0 as in 4. An epoch at its maximum also
//    takes a fresh producer id.
// 6. The broker accepts ANY sequence from a producer id it holds no state
//    for on the partition (a new producer id or epoch, or state expired
//    after producer.id.expiration.ms of silence). So while the broker may
//    not know us yet, a gap is not refused: with B1 refused (a leader still
//    starting) and B2 accepted as our "first" batch, B1's retry would land
//    after B2. Hence a partition sends one batch alone until the broker has
//    acknowledged a batch of its current stamp (and again after an hour
//    without an acknowledgement); only then does it pipeline. Found by the
//    broker-restart integration test.
// 7. MESSAGE_TOO_LARGE / RECORD_LIST_TOO_LARGE: the batch was not written.
//    It is split in two, the halves keeping its sequence range (so later
//    batches keep theirs), or a single line is cut to 75 %; then 2.
// Without idempotence a partition has one batch in flight at a time, which
// is what keeps its order; retries resend that same batch.

import type { LineBatch } from '../line-batch.ts';
import { lineOf, NO_STAMP, type Slice, type Stamp } from './record-batch.ts';

const MAX_SEQUENCE = 0x7fffffff;
const MAX_EPOCH = 0x7fff;
/** After this long without an acknowledgement the broker may have dropped our producer state: confirm it again (6). */
export const RECONFIRM_AFTER_MS = 60 * 60_000;

export class WireBatch {
  slices: Slice[];
  records: number;
  /** Estimated record bytes (request size limit). */
  bytes: number;
  stamp: Stamp;
  inflight = false;
  /** Acknowledged while an older batch was not: kept in its place until the older ones are (see window, 2). */
  done = false;
  /** Node the batch was last sent to. */
  sentTo = -1;
  attempts = 0;

  constructor(slices: Slice[], records: number, bytes: number, stamp: Stamp) {
    this.slices = slices;
    this.records = records;
    this.bytes = bytes;
    this.stamp = stamp;
  }
}

/** How a sent batch ended, from the producer's reading of the response. */
export type Outcome =
  { kind: 'acked' } | { kind: 'retry'; backoff: boolean } | { kind: 'too-large' } | { kind: 'out-of-order' } | { kind: 'producer-id' };

export interface OutcomeEffects {
  /** Batches now acknowledged (in sequence order). */
  readonly acked: WireBatch[];
  /** The partition needs a fresh producer id before it can send again. */
  readonly needsProducerId: boolean;
  /** What a too-large batch became (for logs and metrics). */
  readonly tooLarge?: { split: boolean; batch: LineBatch; line: number; bytes: number; keptBytes: number; lines: number };
}

export class PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly idempotent: boolean;
  readonly maxInflight: number;
  leader = -1;

  private queue: Slice[] = [];
  private queueHead = 0;
  queuedLines = 0;
  queuedBytes = 0;
  /** When the oldest queued line was queued (linger). */
  firstQueuedAt = 0;

  /** Stamped batches from the oldest unacknowledged one on, in sequence order (acknowledged ones after it marked done). */
  readonly unacked: WireBatch[] = [];
  inflight = 0;
  /** A batch failed: send nothing until none is in flight, then resend in order. */
  recovering = false;
  /** Bump the epoch and restamp once nothing is in flight. */
  private restampWithNextEpoch = false;
  /** The producer id that must be replaced before this partition sends again (-2: none). */
  private staleProducerId = -2;
  backoffUntil = 0;
  failures = 0;

  producerId = -1;
  epoch = -1;
  private nextSequence = 0;
  /** The broker acknowledged a batch of the current stamp: it checks our sequences strictly, so batches may be pipelined. */
  private confirmed = false;
  private lastAckAt = 0;

  constructor(topic: string, partition: number, idempotent: boolean) {
    this.topic = topic;
    this.partition = partition;
    this.idempotent = idempotent;
    this.maxInflight = idempotent ? 5 : 1;
  }

  get hasWork(): boolean {
    return this.queuedLines > 0 || this.unacked.length > 0;
  }

  /** Node the in-flight batches went to (-1 when none). */
  get inflightNode(): number {
    for (const b of this.unacked) if (b.inflight) return b.sentTo;
    return -1;
  }

  /** Batches not yet acknowledged. */
  get pendingBatches(): WireBatch[] {
    return this.unacked.filter((b) => !b.done);
  }

  enqueue(slice: Slice, bytes: number, now: number): void {
    if (this.queuedLines === 0) this.firstQueuedAt = now;
    this.queue.push(slice);
    this.queuedLines += slice.to - slice.from;
    this.queuedBytes += bytes;
  }

  /** Whether the partition waits for a fresh producer id. */
  needsProducerId(current: number): boolean {
    return this.staleProducerId !== -2 && this.staleProducerId === current;
  }

  /**
   * The next batch to send to the leader, or undefined. `producerId` and
   * `epoch` are the producer's current ones (idempotent). New batches take
   * queued lines up to `maxBytes` (at least one line) once `lingered`.
   */
  next(now: number, maxBytes: number, lingered: boolean, producerId: number, epoch: number): WireBatch | undefined {
    if (now < this.backoffUntil) return undefined;
    if (this.recovering) {
      if (this.inflight > 0) return undefined;
      this.recovering = false;
    }
    if (this.inflight > 0 && this.inflightNode !== this.leader) return undefined; // leader moved: let the old ones finish
    if (this.idempotent) {
      if (!this.adoptStamp(producerId, epoch)) return undefined;
      if (this.confirmed && this.inflight === 0 && now - this.lastAckAt > RECONFIRM_AFTER_MS) this.confirmed = false;
      if (!this.confirmed && this.inflight > 0) return undefined; // one batch alone until the broker knows us (6)
    }
    // Never more than maxInflight on the wire, resends included (a split adds a batch).
    if (this.inflight >= this.maxInflight) return undefined;
    // Resend what failed, oldest first, behind what is still in flight; never
    // more than maxInflight batches past the oldest unacknowledged one.
    for (let i = 0; i < this.unacked.length && i < this.maxInflight; i++) {
      const b = this.unacked[i] as WireBatch;
      if (!b.inflight && !b.done) return b;
    }
    if (this.unacked.length >= this.maxInflight || this.queuedLines === 0 || !lingered) return undefined;
    return this.takeNew(maxBytes);
  }

  /** Takes the stamp to use: restamps unacknowledged batches after an epoch bump or a new producer id. False: wait. */
  private adoptStamp(producerId: number, epoch: number): boolean {
    if (producerId < 0) return false;
    const stale = this.staleProducerId !== -2;
    if (stale && producerId === this.staleProducerId) return false; // waiting for InitProducerId
    if (!stale && !this.restampWithNextEpoch && this.producerId >= 0) return true;
    if (this.inflight > 0) return false;
    if (stale || this.producerId < 0) {
      this.producerId = producerId;
      this.epoch = epoch;
    } else {
      if (this.epoch >= MAX_EPOCH) {
        this.staleProducerId = this.producerId;
        this.restampWithNextEpoch = false;
        return false;
      }
      this.epoch++;
    }
    this.staleProducerId = -2;
    this.restampWithNextEpoch = false;
    this.nextSequence = 0;
    this.confirmed = false;
    const pending = this.pendingBatches;
    this.unacked.length = 0;
    for (const b of pending) {
      b.stamp = this.takeStamp(b.records);
      this.unacked.push(b);
    }
    return true;
  }

  private takeStamp(records: number): Stamp {
    if (!this.idempotent) return NO_STAMP;
    const stamp = { producerId: this.producerId, producerEpoch: this.epoch, baseSequence: this.nextSequence };
    this.nextSequence = (this.nextSequence + records) % (MAX_SEQUENCE + 1);
    return stamp;
  }

  private takeNew(maxBytes: number): WireBatch {
    const slices: Slice[] = [];
    let bytes = 0;
    let lines = 0;
    while (this.queueHead < this.queue.length) {
      const s = this.queue[this.queueHead] as Slice;
      const batch = s.batch;
      let k = s.from;
      for (; k < s.to; k++) {
        const size = batch.recordSizeBound(lineOf(s, k));
        if (lines > 0 && bytes + size > maxBytes) break;
        bytes += size;
        lines++;
      }
      if (k < s.to) {
        if (k > s.from) slices.push({ batch, from: s.from, to: k, lines: s.lines });
        this.queue[this.queueHead] = { batch, from: k, to: s.to, lines: s.lines };
        break;
      }
      slices.push(s);
      this.queue[this.queueHead] = undefined as unknown as Slice;
      this.queueHead++;
    }
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    this.queuedLines -= lines;
    this.queuedBytes = this.queuedLines === 0 ? 0 : Math.max(0, this.queuedBytes - bytes);
    const wb = new WireBatch(slices, lines, bytes, this.takeStamp(lines));
    this.unacked.push(wb);
    return wb;
  }

  markSent(b: WireBatch, node: number): void {
    b.inflight = true;
    b.sentTo = node;
    b.attempts++;
    this.inflight++;
  }

  /** Applies how a sent batch ended. */
  settle(b: WireBatch, outcome: Outcome, now: number, backoffMs: (failures: number) => number): OutcomeEffects {
    if (b.inflight) {
      b.inflight = false;
      this.inflight--;
    }
    const at = this.unacked.indexOf(b);
    if (at < 0 || b.done) return { acked: [], needsProducerId: false }; // already settled
    switch (outcome.kind) {
      case 'acked': {
        b.done = true;
        while (this.unacked[0]?.done) this.unacked.shift();
        if (b.stamp.producerId === this.producerId && b.stamp.producerEpoch === this.epoch) {
          this.confirmed = true;
          this.lastAckAt = now;
        }
        this.failures = 0;
        this.backoffUntil = 0;
        return { acked: [b], needsProducerId: false };
      }
      case 'retry':
        this.recovering = true;
        if (outcome.backoff) {
          this.failures++;
          this.backoffUntil = now + backoffMs(this.failures);
        }
        return { acked: [], needsProducerId: false };
      case 'out-of-order':
        this.recovering = true;
        if (this.idempotent && at === 0) this.restampWithNextEpoch = true;
        return { acked: [], needsProducerId: false };
      case 'producer-id':
        this.recovering = true;
        this.staleProducerId = b.stamp.producerId;
        return { acked: [], needsProducerId: true };
      case 'too-large': {
        this.recovering = true;
        return { acked: [], needsProducerId: false, tooLarge: this.shrink(b, at) };
      }
    }
  }

  /** A batch refused as too large: split it in two (same sequence range), or cut its only line to 75 %. */
  private shrink(b: WireBatch, at: number): NonNullable<OutcomeEffects['tooLarge']> {
    if (b.records > 1) {
      const half = Math.ceil(b.records / 2);
      const [first, second] = splitSlices(b.slices, half);
      const s = b.stamp;
      const bytesA = Math.ceil((b.bytes * half) / b.records);
      const a = new WireBatch(first, half, bytesA, s);
      const c = new WireBatch(
        second,
        b.records - half,
        b.bytes - bytesA,
        s === NO_STAMP ? s : { ...s, baseSequence: (s.baseSequence + half) % (MAX_SEQUENCE + 1) },
      );
      this.unacked.splice(at, 1, a, c);
      const slice = b.slices[0] as Slice;
      return { split: true, batch: slice.batch, line: lineOf(slice, slice.from), bytes: 0, keptBytes: 0, lines: b.records };
    }
    const slice = b.slices[0] as Slice;
    const line = lineOf(slice, slice.from);
    const bytes = slice.batch.valueLength(line);
    const keptBytes = Math.floor(bytes * 0.75);
    slice.batch.cutValue(line, keptBytes);
    return { split: false, batch: slice.batch, line, bytes, keptBytes, lines: 1 };
  }

  /** Lines queued or unacknowledged, dropped when the sink closes (they are read again after a restart). */
  clear(): void {
    this.queue = [];
    this.queueHead = 0;
    this.queuedLines = 0;
    this.queuedBytes = 0;
    this.unacked.length = 0;
    this.inflight = 0;
  }
}

export function splitSlices(slices: readonly Slice[], lines: number): [Slice[], Slice[]] {
  const first: Slice[] = [];
  const second: Slice[] = [];
  let left = lines;
  for (const s of slices) {
    const n = s.to - s.from;
    if (left >= n) {
      first.push(s);
      left -= n;
    } else if (left > 0) {
      first.push({ batch: s.batch, from: s.from, to: s.from + left, lines: s.lines });
      second.push({ batch: s.batch, from: s.from + left, to: s.to, lines: s.lines });
      left = 0;
    } else second.push(s);
  }
  return [first, second];
}

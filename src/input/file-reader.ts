// FileReader: one open file, from open to close. Each poll() checks the file
// once (where it is, whether it grew or shrank), reads what the in-flight
// budget allows, splits it into lines and hands them to the sink as
// LineBatches; acknowledgements come back through onBatchAcked() and move
// the acknowledged offset, which is the only offset a checkpoint ever takes.
//
// It owns its descriptor and nothing else: it never writes the checkpoint
// store (the registry asks it for its checkpoint), never schedules itself
// (the registry's loop, or a test, calls poll()), and takes its route
// (topic) from the registry, so a reload can change where the next line goes
// without touching the file.
//
// It keeps the descriptor after the file is renamed or deleted and reads it
// to its end; it closes when everything read is acknowledged and the file
// has been quiet for rotated.quietMs, when the hold limit is exceeded (the
// rest is counted as abandoned), when an at-path file stayed quiet and fully
// acknowledged for closeInactiveMs (it is then dormant: the registry reopens
// it by identity when it grows), or when no input matches it any more.

import type { FileHandle } from 'node:fs/promises';
import type pino from 'pino';
import { BATCH_COST_BYTES, LINE_COST_BYTES, type InflightBudget } from '../budget.ts';
import { AckTracker } from '../checkpoint/ack-tracker.ts';
import type { CheckpointEntry } from '../checkpoint/store.ts';
import type { ReaderConfig, RotatedConfig } from '../config/config.ts';
import type { RateLimitedWarning } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { LineBatch, type BatchOwner } from '../sink/line-batch.ts';
import type { Sink } from '../sink/sink.ts';
import { Waker } from '../time.ts';
import { reconcile, type Location } from './file-state.ts';
import { HEAD_MAX_BYTES, readAt, readHead, readTail, statHandle, statPath, TAIL_BYTES, type HeadSignature } from './identity.ts';
import { LineSplitter, type LineRun } from './line-splitter.ts';
import { MultilineAggregator } from './multiline.ts';
import type { ReadBuffer, ReadBufferPool } from './read-buffers.ts';
import { routeFileKey, type Route } from './route.ts';

const EMPTY = Buffer.alloc(0);

/** A file that grew within this window is polled every pollIntervalMs; a quieter one waits for an event or the scan. */
export const ACTIVE_WINDOW_MS = 2_000;
/**
 * A file that grew at its last check is checked again this soon, then ever
 * less often (doubling) up to reader.pollIntervalMs: a steady writer's lines
 * leave within a few tens of ms, and a file that stops costs a few extra
 * checks. Measured at 10,000 lines/s (bench/compare, latency): a fixed
 * 250 ms poll gave p99 write-to-append 251 ms at 2.7% of a core; 10 ms,
 * 25 ms at 8.3%; 20 ms, 43 ms at 5.5%.
 */
const FAST_POLL_MS = 20;
/** Below this much room, a reader waits for acknowledgements rather than reading crumbs. */
const MIN_READ_BYTES = 4_096;

export type CloseReason = 'drained' | 'abandoned' | 'error' | 'shutdown' | 'idle' | 'unmatched';

/** What one poll found: keep waiting for work, wait for budget room, or the reader closed itself. */
export type PollOutcome = 'idle' | 'blocked' | 'closed';

/** A new source id: the file's identity plus when this content of it began (base 36 ms). */
export function newSourceId(identity: string, now: number): string {
  return `${identity}:${now.toString(36)}`;
}

export interface ReaderHooks {
  /** The path stopped naming this file (renamed or deleted): a new file may be there. */
  onDetached?(reader: FileReader): void;
  /** The file became active (grew after a quiet spell) or went quiet: directory events are re-armed accordingly. */
  onActivityChange?(reader: FileReader, active: boolean): void;
  /** Closed; `checkpoint` is its final checkpoint (undefined when abandoned or failed: the last synced one stands). */
  onClosed?(reader: FileReader, reason: CloseReason, checkpoint: ReaderCheckpoint | undefined): void;
}

/** A reader's checkpoint, without the registry's fields (input, finished). */
export type ReaderCheckpoint = Pick<CheckpointEntry, 'path' | 'offset' | 'head' | 'tail' | 'seenAt' | 'source'>;

export interface FileReaderOptions {
  path: string;
  identity: string;
  handle: FileHandle;
  startOffset: number;
  head: HeadSignature;
  /** Stable id of the file's content (logagent.source header), from its checkpoint or new. */
  source: string;
  /** The bytes just before startOffset (up to TAIL_BYTES), to recognise a rewrite before the first read. */
  tailBefore?: Buffer;
  route: Route;
  reader: ReaderConfig;
  rotated: RotatedConfig;
  budget: InflightBudget;
  sink: Sink;
  metrics: Metrics;
  logger: pino.Logger;
  truncationWarning: RateLimitedWarning;
  /** Read buffers shared by the registry's readers. */
  buffers: ReadBufferPool;
  now?: () => number;
  hooks?: ReaderHooks;
  /** Opened after it was renamed away (found again by identity): read to its end, then close. */
  detached?: boolean;
}

/** The acknowledgements of one content generation of the file: a truncation starts a new one. */
class Generation implements BatchOwner {
  readonly tracker: AckTracker;
  private readonly reader: FileReader;
  constructor(reader: FileReader, startOffset: number) {
    this.reader = reader;
    this.tracker = new AckTracker(startOffset);
  }
  onBatchAcked(batch: LineBatch): void {
    this.reader.acked(this, batch);
  }
}

export class FileReader {
  readonly path: string;
  readonly identity: string;
  route: Route;
  /** Stable id of the file's content: changes when the file is truncated and written anew. */
  private source: string;
  private readonly handle: FileHandle;
  private readonly cfg: ReaderConfig;
  private readonly rotatedCfg: RotatedConfig;
  private readonly budget: InflightBudget;
  private readonly sink: Sink;
  private readonly metrics: Metrics;
  private readonly logger: pino.Logger;
  private readonly truncationWarning: RateLimitedWarning;
  private readonly buffers: ReadBufferPool;
  private readonly now: () => number;
  private readonly hooks: ReaderHooks;

  private readonly splitter: LineSplitter;
  /** Joins multiline events, when the route asks for them (kept per route: a reload that changes them starts a new one). */
  private multiline: { aggregator: MultilineAggregator; route: Route } | undefined;
  private generation: Generation;
  private head: HeadSignature;
  private location: Location = 'at-path';
  private detachedAt: number | undefined;
  private lastGrowthAt: number;
  private active = true;
  /** Delay before the next check of an active file (see FAST_POLL_MS). */
  private activePollMs: number;
  /** Size at the last look from poll() or refreshLocation(). */
  private lastSize = 0;
  /** Budget bytes charged for the unfinished last line. */
  private heldCharge = 0;
  private lastPollAtMs = 0;
  private checkpointing: Promise<ReaderCheckpoint | undefined> | undefined;
  private closing: Promise<void> | undefined;
  private lastMtimeNs = -1n;
  /** The last bytes read, just before readOffset: recognises a file rewritten under us. */
  private tailBefore: Buffer = EMPTY;
  private syncedOffset = -1;
  private syncedAt = 0;
  private finishing = false;
  readonly waker = new Waker();
  private readonly abort = new AbortController();
  private stopping = false;
  private closed = false;

  constructor(o: FileReaderOptions) {
    this.path = o.path;
    this.identity = o.identity;
    this.handle = o.handle;
    this.route = o.route;
    this.source = o.source;
    this.cfg = o.reader;
    this.rotatedCfg = o.rotated;
    this.budget = o.budget;
    this.sink = o.sink;
    this.metrics = o.metrics;
    this.logger = o.logger.child({ file: o.path, identity: o.identity });
    this.truncationWarning = o.truncationWarning;
    this.buffers = o.buffers;
    this.now = o.now ?? Date.now;
    this.hooks = o.hooks ?? {};
    this.splitter = new LineSplitter(o.reader.maxLineBytes, o.startOffset);
    this.activePollMs = o.reader.pollIntervalMs;
    this.generation = new Generation(this, o.startOffset);
    this.head = o.head;
    this.tailBefore = o.tailBefore ?? EMPTY;
    this.lastGrowthAt = this.now();
    if (o.detached) {
      this.location = 'rotated';
      this.detachedAt = this.lastGrowthAt;
    }
    this.metrics.filesOpened.inc();
  }

  /** Offset of the next byte to read. */
  get readOffset(): number {
    return this.splitter.nextOffset;
  }

  /** End of the last line of the contiguous run Kafka acknowledged: what a checkpoint holds. */
  get committedOffset(): number {
    return this.generation.tracker.committedOffset;
  }

  /** Batches handed to the sink and not yet acknowledged. */
  get unacknowledgedBatches(): number {
    return this.generation.tracker.pendingCount;
  }

  get isDetached(): boolean {
    return this.location !== 'at-path';
  }

  get isDeleted(): boolean {
    return this.location === 'deleted';
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  get isFinishing(): boolean {
    return this.finishing;
  }

  /** Grew within ACTIVE_WINDOW_MS: polls itself, and its directory's events are disarmed. */
  get isActive(): boolean {
    return this.active;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Time the last poll started. */
  get lastPollAt(): number {
    return this.lastPollAtMs;
  }

  /** Time of the last read that returned bytes. */
  get lastGrowth(): number {
    return this.lastGrowthAt;
  }

  /** Size at the last check. */
  get size(): number {
    return this.lastSize;
  }

  get detachedSince(): number | undefined {
    return this.detachedAt;
  }

  get state(): 'reading' | 'rotated' | 'deleted' | 'finishing' | 'closed' {
    if (this.closed) return 'closed';
    if (this.location === 'rotated') return 'rotated';
    if (this.location === 'deleted') return 'deleted';
    return this.finishing ? 'finishing' : 'reading';
  }

  /** Something may have changed (a filesystem event, the scan, an acknowledgement): check now. */
  wake(): void {
    this.waker.wake();
  }

  /**
   * No input matches the file any more: read it to its last complete line,
   * wait for the acknowledgements, then close (its checkpoint stays, so a
   * later match resumes without duplicates). unfinish() takes that back.
   */
  finish(): void {
    this.finishing = true;
    this.wake();
  }

  unfinish(): void {
    this.finishing = false;
  }

  /**
   * How long the loop may wait before the next poll when no event comes;
   * undefined: only an event, the scan or an acknowledgement wakes it.
   */
  nextCheckDelay(): number | undefined {
    if (this.closed) return undefined;
    const now = this.now();
    if (this.location !== 'at-path' || this.finishing) return this.cfg.pollIntervalMs;
    if (this.active) return this.activePollMs;
    if (this.splitter.hasPending) return Math.max(this.cfg.pollIntervalMs, this.lastGrowthAt + this.cfg.partialLineTimeoutMs - now);
    const event = this.pendingEventTimeoutMs();
    if (event !== undefined) return Math.max(this.cfg.pollIntervalMs, this.lastGrowthAt + event - now);
    if (this.unacknowledgedBatches > 0) return undefined;
    return Math.max(0, this.lastGrowthAt + this.cfg.closeInactiveMs - now);
  }

  /**
   * One check of the file. Reads until the end or until the budget is spent
   * ('blocked': the caller waits for room, then polls again). Returns
   * 'closed' when the reader closed itself.
   */
  async poll(): Promise<PollOutcome> {
    if (this.closed) return 'closed';
    this.lastPollAtMs = this.now();
    // Path first, then descriptor: bytes written before a rename are then
    // always visible in the fstat that follows the stat showing the rename.
    // The other order can see "rotated" with a stale size and close early.
    const atPath = this.location === 'at-path' ? await statPath(this.path) : undefined;
    const facts = await statHandle(this.handle);
    const state = reconcile({ ownIdentity: this.identity, readOffset: this.readOffset, handle: facts, atPath });
    this.lastSize = facts.size;
    this.applyLocation(state.location, facts.size);
    // Grown, or modified without growing (rewritten to the same length): the
    // bytes before the offset tell whether it is still the content we read.
    const modified = facts.mtimeNs !== this.lastMtimeNs;
    this.lastMtimeNs = facts.mtimeNs;
    const suspect = state.content === 'grew' || modified;
    if (state.content === 'truncated' || (suspect && (await this.rewrittenBeforeOffset()))) {
      this.restartAfterTruncation(facts.size);
    }

    const offsetBefore = this.readOffset;
    const read = await this.readAvailable();
    if (this.closed) return 'closed';
    this.activePollMs =
      this.readOffset > offsetBefore
        ? Math.min(FAST_POLL_MS, this.cfg.pollIntervalMs)
        : Math.min(this.activePollMs * 2, this.cfg.pollIntervalMs);
    const now = this.now();
    const quietMs = now - this.lastGrowthAt;
    this.updateActivity(quietMs < ACTIVE_WINDOW_MS);
    const atEof = this.readOffset >= this.lastSize;

    if (this.location !== 'at-path') {
      if (now - (this.detachedAt ?? now) > this.rotatedCfg.maxHoldMs) {
        await this.abandon(`held longer than LOGAGENT_ROTATED_MAX_HOLD_MS (${this.rotatedCfg.maxHoldMs} ms)`);
        return 'closed';
      }
      // Quiet counts from the rotation too: a writer may keep appending to
      // the renamed file until it reopens its log.
      const quietSinceRotation = now - Math.max(this.lastGrowthAt, this.detachedAt ?? 0);
      if (atEof && quietSinceRotation >= this.rotatedCfg.quietMs) {
        // One last look: bytes that arrived since this poll's fstat are read
        // on the next round instead of being dropped with the descriptor.
        if ((await statHandle(this.handle)).size > this.readOffset) return read === 'blocked' ? 'blocked' : 'idle';
        this.flushPartial('rotated');
        this.flushEvent();
        if (this.unacknowledgedBatches === 0) {
          await this.close('drained');
          return 'closed';
        }
      }
      return read === 'blocked' ? 'blocked' : 'idle';
    }

    if (atEof && this.splitter.hasPending && quietMs >= this.cfg.partialLineTimeoutMs && !this.finishing) this.flushPartial('quiet');
    const eventTimeout = this.pendingEventTimeoutMs();
    if (atEof && eventTimeout !== undefined && quietMs >= eventTimeout && !this.finishing) this.flushEvent();
    if (atEof && this.unacknowledgedBatches === 0) {
      if (this.finishing) {
        await this.close('unmatched');
        return 'closed';
      }
      if (!this.splitter.hasPending && !this.multiline?.aggregator.hasPending && quietMs >= this.cfg.closeInactiveMs) {
        await this.close('idle');
        return 'closed';
      }
    }
    return read === 'blocked' ? 'blocked' : 'idle';
  }

  /**
   * Re-checks where the file is, without reading. The registry calls it from
   * the scan for readers that do not poll themselves (waiting on the budget,
   * or quiet): rotation and deletion must still be seen for the hold limits
   * and to find the new file at the path. Wakes the reader if the file grew.
   */
  async refreshLocation(): Promise<void> {
    if (this.closed || this.location === 'deleted') return;
    const atPath = this.location === 'at-path' ? await statPath(this.path) : undefined;
    const facts = await statHandle(this.handle);
    this.lastSize = facts.size;
    this.applyLocation(reconcile({ ownIdentity: this.identity, readOffset: this.readOffset, handle: facts, atPath }).location, facts.size);
    if (facts.size !== this.readOffset || facts.mtimeNs !== this.lastMtimeNs) this.wake();
  }

  /** Shutdown: stop reading and ship the unfinished last line. The descriptor stays open for the final checkpoint; close() follows. */
  async stopReading(): Promise<void> {
    this.stopping = true;
    this.abort.abort(new Error('reader stopping'));
    this.waker.wake();
    if (!this.closed) {
      this.flushPartial('shutdown');
      this.flushEvent();
    }
  }

  /** Gives up on the file now; what is unacknowledged is counted as abandoned. */
  async abandon(why: string): Promise<void> {
    if (this.closed) return;
    const lost = Math.max(0, this.lastSize - this.committedOffset);
    this.metrics.abandonedBytes.inc(lost);
    this.logger.warn({ why, abandonedBytes: lost, committedOffset: this.committedOffset }, 'giving up on rotated file');
    await this.close('abandoned');
  }

  /**
   * The checkpoint to record now, or undefined when nothing changed since
   * the last one. The offset is the acknowledged one, never the read one.
   */
  checkpoint(): Promise<ReaderCheckpoint | undefined> {
    // One at a time, and close() waits for it: the descriptor must not be
    // closed under a checkpoint that is reading its signature.
    this.checkpointing = (this.checkpointing ?? Promise.resolve(undefined)).then(
      () => this.takeCheckpoint(),
      () => this.takeCheckpoint(),
    );
    return this.checkpointing;
  }

  private async takeCheckpoint(): Promise<ReaderCheckpoint | undefined> {
    if (this.closed) return undefined;
    const offset = this.committedOffset;
    const now = this.now();
    // seenAt must stay fresh for pruning even when nothing moves.
    if (offset === this.syncedOffset && this.head.length >= Math.min(HEAD_MAX_BYTES, this.lastSize) && now - this.syncedAt < 60_000) {
      return undefined;
    }
    // The signature is read from the file, so the file must still hold what
    // we read: after a truncation or rewrite we have not polled yet, the
    // offset belongs to the old content and the bytes to the new one, and a
    // restart would trust that mix. The next poll starts over; until then
    // the previous checkpoint stands.
    if ((await statHandle(this.handle)).size < this.readOffset || (await this.rewrittenBeforeOffset())) return undefined;
    const readBytes = Math.min(this.lastSize, this.readOffset);
    if (this.head.length < HEAD_MAX_BYTES && readBytes > this.head.length) {
      this.head = await readHead(this.handle, readBytes);
    }
    const tail = await readTail(this.handle, offset);
    this.syncedOffset = offset;
    this.syncedAt = now;
    return { path: this.path, offset, head: this.head, tail: tail.toString('base64'), seenAt: now, source: this.source };
  }

  /** Closes the descriptor; idempotent (a second call waits for the first). */
  close(reason: CloseReason): Promise<void> {
    this.closing ??= this.closeNow(reason);
    return this.closing;
  }

  private async closeNow(reason: CloseReason): Promise<void> {
    let final: ReaderCheckpoint | undefined;
    if (reason !== 'abandoned' && reason !== 'error') {
      this.syncedOffset = -1; // force a fresh one: the registry records it with the close
      final = await this.checkpoint().catch((err: unknown) => {
        this.logger.warn({ err }, 'cannot record final checkpoint of file');
        return undefined;
      });
    } else {
      await this.checkpointing?.catch(() => undefined);
    }
    this.closed = true;
    this.stopping = true;
    this.abort.abort(new Error('reader closed'));
    this.waker.wake();
    this.budget.releaseHeld(this.heldCharge);
    this.heldCharge = 0;
    await this.handle.close().catch(() => undefined);
    this.metrics.filesClosed.inc({ reason });
    this.logger.debug({ reason, committedOffset: this.committedOffset }, 'file closed');
    this.hooks.onClosed?.(this, reason, final);
  }

  /** Called by a Generation when Kafka acknowledged one of its batches. */
  acked(generation: Generation, batch: LineBatch): void {
    this.budget.release(batch.chargedBytes);
    const chunk = batch.chunk;
    batch.chunk = undefined;
    chunk?.release();
    generation.tracker.ack(batch.seq);
    // A rotated file waits for its acknowledgements to close; a quiet one to go dormant.
    if (generation === this.generation && (this.location !== 'at-path' || this.finishing || this.unacknowledgedBatches === 0)) {
      this.waker.wake();
    }
  }

  private updateActivity(active: boolean): void {
    if (active === this.active) return;
    this.active = active;
    this.hooks.onActivityChange?.(this, active);
  }

  private applyLocation(location: Location, size: number): void {
    if (location !== 'at-path' && this.location === 'at-path') {
      this.location = location;
      this.detachedAt = this.now();
      this.metrics.rotations.inc({ kind: location });
      this.logger.info({ how: location, readOffset: this.readOffset, size }, 'file rotated; reading it to its end');
      this.hooks.onDetached?.(this);
    } else if (location === 'deleted' && this.location !== 'deleted') {
      this.location = 'deleted';
    }
  }

  /**
   * copytruncate followed by fast writes can leave the file as long as our
   * offset or longer by the time we look, so "shorter than the offset"
   * misses it. The bytes just before the offset tell: if they are not the
   * ones we read there, the content was replaced. One small pread, only when
   * the file grew or its mtime moved.
   */
  private async rewrittenBeforeOffset(): Promise<boolean> {
    const expected = this.tailBefore;
    if (expected.length === 0) return false;
    const actual = await readAt(this.handle, this.readOffset - expected.length, expected.length);
    return !actual.equals(expected);
  }

  /** Keeps the last bytes read (up to TAIL_BYTES) to recognise the content at the offset later. */
  private rememberTail(chunk: Buffer): void {
    if (chunk.length >= TAIL_BYTES) {
      this.tailBefore = Buffer.from(chunk.subarray(chunk.length - TAIL_BYTES));
    } else {
      const joined = Buffer.concat([this.tailBefore, chunk]);
      this.tailBefore = Buffer.from(joined.subarray(Math.max(0, joined.length - TAIL_BYTES)));
    }
  }

  private restartAfterTruncation(size: number): void {
    this.metrics.truncations.inc();
    this.logger.warn({ readOffset: this.readOffset, size }, 'file truncated; reading it again from the start');
    this.budget.releaseHeld(this.heldCharge);
    this.heldCharge = 0;
    this.splitter.reset(0);
    this.multiline?.aggregator.reset();
    this.tailBefore = EMPTY;
    // New content: a new source id, so a consumer de-duplicating by
    // (source, offset) does not drop its lines as already seen.
    this.source = newSourceId(this.identity, this.now());
    // Acknowledgements still due for the old content must not move the new
    // checkpoint: they land on the old generation's tracker, which nothing
    // reads any more.
    this.generation = new Generation(this, 0);
    this.head = { length: 0, sha256: '' };
    this.syncedOffset = -1;
  }

  private async readAvailable(): Promise<'eof' | 'blocked'> {
    // The buffer the splitter's unfinished line still views, if any: moved
    // to the front of the next buffer (carried), or copied out at the end.
    let viewed: ReadBuffer | undefined;
    try {
      while (!this.stopping && this.readOffset < this.lastSize) {
        const remaining = this.lastSize - this.readOffset;
        const chunkBytes = this.cfg.readChunkBytes;
        // Worst case every byte is a line: size the read so that its lines'
        // bookkeeping fits the room left, then settle to what it really cost.
        let want = Math.min(chunkBytes, remaining);
        const fits = Math.floor((this.budget.availableBytes - 2 * BATCH_COST_BYTES) / (1 + LINE_COST_BYTES));
        if (fits < want) want = fits >= Math.min(remaining, MIN_READ_BYTES) ? fits : Math.min(chunkBytes, remaining);
        // The unfinished line goes in front of the new bytes, so that it is
        // found whole and shipped as a view; a short one keeps the buffer
        // within a read chunk (pooled).
        const carry = this.splitter.carryLength;
        if (carry > 0 && carry <= chunkBytes >> 1 && carry + want > chunkBytes) want = chunkBytes - carry;
        const reserved = worstCaseCost(want);
        if (!this.budget.tryReserve(reserved)) return 'blocked';

        const rb = this.buffers.take(carry + want);
        const heldBefore = this.splitter.pendingLength;
        const carried = this.splitter.takeCarry(rb.buffer);
        viewed?.release();
        viewed = undefined;
        let bytesRead: number;
        try {
          ({ bytesRead } = await this.handle.read(rb.buffer, carried, want, this.readOffset));
        } catch (err) {
          this.splitter.uncarry(rb.buffer.subarray(0, carried));
          this.budget.settle(reserved, 0, 0);
          rb.release();
          throw err;
        }
        if (bytesRead === 0 || this.closed) {
          this.splitter.uncarry(rb.buffer.subarray(0, carried));
          this.budget.settle(reserved, 0, 0);
          rb.release();
          // Shorter than fstat said: truncated between the two calls; the next poll sees it.
          return 'eof';
        }
        const chunk = rb.buffer.subarray(0, carried + bytesRead);
        this.rememberTail(chunk.subarray(carried));
        const runs = this.splitter.push(chunk, carried, rb.index);
        if (this.splitter.holdsView) {
          rb.retain();
          viewed = rb;
        }
        const skipped = this.splitter.takeSkippedBytes();
        if (skipped > 0) this.metrics.bytesSkipped.inc(skipped);
        const readAt = this.now();
        this.lastGrowthAt = readAt;
        this.metrics.bytesRead.inc(bytesRead);

        // Carried bytes move from the held line into the read buffer's charge.
        const heldDelta = this.splitter.pendingLength - heldBefore;
        this.heldCharge += heldDelta;
        if (this.isShaped()) {
          // Lines are copied into records of their own: the read buffer is
          // not kept, and each batch is charged for what it holds.
          this.budget.settle(reserved, 0, heldDelta);
          for (const run of runs) this.emitShaped(run, readAt);
          rb.release();
          continue;
        }
        let charged = 0;
        let chunkCharged = false;
        const costs: number[] = [];
        for (const run of runs) {
          let cost = run.ends.length * LINE_COST_BYTES + BATCH_COST_BYTES;
          if (run.buffer !== chunk) cost += run.buffer.length;
          else if (!chunkCharged) {
            // Views keep the whole read buffer alive: charge it once.
            cost += rb.buffer.length;
            chunkCharged = true;
          }
          costs.push(cost);
          charged += cost;
        }
        this.budget.settle(reserved, charged, heldDelta);
        for (let i = 0; i < runs.length; i++) {
          const run = runs[i] as LineRun;
          this.emit(run, costs[i] as number, readAt, run.buffer === chunk ? rb : undefined);
        }
        // The read's own hold: with no batch and no unfinished line viewing it, the buffer is reused now.
        rb.release();
      }
      return 'eof';
    } finally {
      if (viewed) {
        // Between reads the unfinished line is kept in memory of its own: a
        // slow writer finishing it must not pin a whole read buffer.
        this.splitter.detach();
        viewed.release();
      }
    }
  }

  private flushPartial(why: 'quiet' | 'rotated' | 'shutdown'): void {
    const held = this.splitter.pendingLength;
    const run = this.splitter.flush();
    if (!run) return;
    this.metrics.partialLinesFlushed.inc({ why });
    this.heldCharge -= held;
    if (this.isShaped()) {
      this.budget.settle(0, 0, -held);
      this.emitShaped(run, this.now());
      return;
    }
    const cost = run.buffer.length + LINE_COST_BYTES + BATCH_COST_BYTES;
    this.budget.settle(0, cost, -held);
    this.emit(run, cost, this.now());
  }

  /** The records of this route are shaped (encoded, keyed per line, or joined into events), not raw lines. */
  private isShaped(): boolean {
    return this.route.multiline !== undefined || !this.route.formatter.isIdentity || this.multiline?.aggregator.hasPending === true;
  }

  /** How long a pending multiline event waits for its next line; undefined when none is pending. */
  private pendingEventTimeoutMs(): number | undefined {
    const m = this.multiline;
    if (!m?.aggregator.hasPending) return undefined;
    return m.route.multiline?.timeoutMs ?? 0;
  }

  /** Ships the multiline event being assembled (quiet timeout, rotation, shutdown). */
  private flushEvent(): void {
    const aggregator = this.multiline?.aggregator;
    if (!aggregator?.hasPending) return;
    const held = aggregator.pendingBytes;
    const event = aggregator.flush();
    this.heldCharge -= held;
    this.budget.settle(0, 0, -held);
    if (event)
      this.emitRecords(
        [{ value: event.bytes, start: event.startOffset, end: event.endOffset, truncated: event.truncated, lines: event.lines }],
        this.now(),
      );
  }

  /** The lines of a run, joined into events when the route asks for it, shaped and sent. */
  private emitShaped(run: LineRun, readAt: number): void {
    const route = this.route;
    if (this.multiline && this.multiline.route.multiline !== route.multiline) {
      // The route's multiline settings changed: the event being assembled
      // ends here; the next line starts under the new settings.
      this.flushEvent();
      this.multiline = undefined;
    }
    if (route.multiline && !this.multiline) this.multiline = { aggregator: new MultilineAggregator(route.multiline), route };
    const aggregator = this.multiline?.aggregator;
    const records: ShapedRecord[] = [];
    const heldBefore = aggregator?.pendingBytes ?? 0;
    for (let i = 0; i < run.ends.length; i++) {
      const start = i === 0 ? run.first : (run.nexts[i - 1] as number);
      const value = run.buffer.subarray(start, run.ends[i]);
      const lineStart = run.bufferOffset + start;
      const lineEnd = run.bufferOffset + (run.nexts[i] as number);
      if (aggregator) {
        const event = aggregator.push(value, lineStart, lineEnd);
        if (event)
          records.push({
            value: event.bytes,
            start: event.startOffset,
            end: event.endOffset,
            truncated: event.truncated,
            lines: event.lines,
          });
      } else {
        records.push({ value, start: lineStart, end: lineEnd, truncated: run.truncated, lines: 1 });
      }
    }
    if (aggregator) {
      const skipped = aggregator.takeSkippedBytes();
      if (skipped > 0) this.metrics.bytesSkipped.inc(skipped);
      const heldDelta = aggregator.pendingBytes - heldBefore;
      this.heldCharge += heldDelta;
      this.budget.settle(0, 0, heldDelta);
    }
    if (records.length > 0) this.emitRecords(records, readAt);
  }

  /** Encodes records into one buffer and sends them as one batch. */
  private emitRecords(records: ShapedRecord[], readAt: number): void {
    const route = this.route;
    const formatter = route.formatter;
    const values: Buffer[] = [];
    let keys: Array<string | null> | undefined;
    let truncatedRecords: boolean[] | undefined;
    let lines = 0;
    records.forEach((r, i) => {
      const encoded = formatter.encode(r.value, this.path, r.start, readAt);
      values.push(encoded.value);
      if (encoded.key !== undefined) (keys ??= new Array<string | null>(records.length).fill(null))[i] = encoded.key;
      if (encoded.parseFailed) this.metrics.recordsNotParsed.inc();
      if (encoded.escaped) this.metrics.recordsEscaped.inc();
      if (r.truncated) {
        (truncatedRecords ??= new Array<boolean>(records.length).fill(false))[i] = true;
        this.metrics.linesTruncated.inc({ reason: r.lines > 1 ? 'multiline' : 'max_line_bytes' });
      }
      lines += r.lines;
    });
    // Always a copy: a raw value is a view into the read buffer, which is read into again once this read is done.
    const buffer = Buffer.concat(values);
    const starts: number[] = [];
    const ends: number[] = [];
    let at = 0;
    for (const v of values) {
      starts.push(at);
      at += v.length;
      ends.push(at);
    }
    const cost = buffer.length + records.length * 2 * LINE_COST_BYTES + BATCH_COST_BYTES;
    this.budget.settle(0, cost, 0);
    const generation = this.generation;
    const last = records[records.length - 1] as ShapedRecord;
    const batch = new LineBatch({
      owner: generation,
      seq: generation.tracker.issue(last.end),
      identity: this.identity,
      source: this.source,
      topic: route.topic,
      key: routeFileKey(route, this.path) ?? null,
      headers: route.headers,
      buffer,
      bufferOffset: 0,
      first: 0,
      ends,
      nexts: records.map((r) => r.end),
      starts,
      offsets: records.map((r) => r.start),
      keys,
      truncated: false,
      truncatedRecords,
      chargedBytes: cost,
      readAt,
    });
    this.metrics.linesRead.inc(lines);
    this.sink.send(batch);
  }

  private emit(run: LineRun, cost: number, readAt: number, chunk?: ReadBuffer): void {
    const generation = this.generation;
    const count = run.ends.length;
    const batch = new LineBatch({
      owner: generation,
      seq: generation.tracker.issue(run.bufferOffset + (run.nexts[count - 1] ?? run.first)),
      identity: this.identity,
      source: this.source,
      topic: this.route.topic,
      key: routeFileKey(this.route, this.path) ?? null,
      headers: this.route.headers,
      buffer: run.buffer,
      bufferOffset: run.bufferOffset,
      first: run.first,
      ends: run.ends,
      nexts: run.nexts,
      truncated: run.truncated,
      chargedBytes: cost,
      readAt,
    });
    if (chunk) {
      chunk.retain();
      batch.chunk = chunk;
    }
    this.metrics.linesRead.inc(count);
    if (run.truncated) {
      this.metrics.linesTruncated.inc({ reason: 'max_line_bytes' });
      this.truncationWarning.warn(this.logger, {
        offset: run.bufferOffset,
        keptBytes: run.buffer.length,
        maxLineBytes: this.cfg.maxLineBytes,
      });
    }
    this.sink.send(batch);
  }
}

/** A record being shaped: one line, or one multiline event. */
interface ShapedRecord {
  readonly value: Buffer;
  /** File offset of its first byte, and just past its last line. */
  readonly start: number;
  readonly end: number;
  readonly truncated: boolean;
  readonly lines: number;
}

function worstCaseCost(bytes: number): number {
  return bytes * (1 + LINE_COST_BYTES) + 2 * BATCH_COST_BYTES;
}

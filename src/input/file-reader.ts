// FileReader: one open file, from open to close. It reads new bytes as the
// file grows, splits them into lines, hands each line to the sink and tracks
// which ones Kafka acknowledged, so the checkpoint only ever covers
// acknowledged lines.
//
// It owns its descriptor. It keeps the descriptor after the file is renamed
// or deleted and reads it to the end; it closes only when everything read has
// been acknowledged and the file has been quiet for rotated.quietMs, or when
// the hold limit is exceeded (then the rest is counted as abandoned). It does
// not decide which files exist: the FileInput that created it does.

import type { FileHandle } from 'node:fs/promises';
import type pino from 'pino';
import { AckTracker } from '../checkpoint/ack-tracker.ts';
import type { CheckpointStore } from '../checkpoint/store.ts';
import type { ReaderConfig, RotatedConfig } from '../config/config.ts';
import type { InflightBudget } from '../budget.ts';
import { errorMessage } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { OutRecord, Sink } from '../sink/sink.ts';
import { Waker } from '../time.ts';
import { reconcile, type Location } from './file-state.ts';
import { HEAD_MAX_BYTES, readHead, readTail, statHandle, statPath, type HeadSignature } from './identity.ts';
import { LineSplitter, type Line } from './line-splitter.ts';

export const TRUNCATED_HEADER = 'logagent.truncated';

export type CloseReason = 'drained' | 'abandoned' | 'error' | 'shutdown';

export interface FileReaderOptions {
  path: string;
  key: string;
  handle: FileHandle;
  startOffset: number;
  head: HeadSignature;
  topic: string;
  reader: ReaderConfig;
  rotated: RotatedConfig;
  budget: InflightBudget;
  sink: Sink;
  store: CheckpointStore;
  metrics: Metrics;
  logger: pino.Logger;
  now?: () => number;
  onClosed?: (reader: FileReader, reason: CloseReason) => void;
  /** The path stopped naming this file (renamed or deleted): a new file may be there. */
  onDetached?: (reader: FileReader) => void;
}

export class FileReader {
  readonly path: string;
  readonly key: string;
  private readonly handle: FileHandle;
  private readonly topic: string;
  private readonly cfg: ReaderConfig;
  private readonly rotatedCfg: RotatedConfig;
  private readonly budget: InflightBudget;
  private readonly sink: Sink;
  private readonly store: CheckpointStore;
  private readonly metrics: Metrics;
  private readonly logger: pino.Logger;
  private readonly now: () => number;
  private readonly onClosed: ((reader: FileReader, reason: CloseReason) => void) | undefined;
  private readonly onDetached: ((reader: FileReader) => void) | undefined;

  private readonly splitter: LineSplitter;
  private tracker: AckTracker;
  private head: HeadSignature;
  private location: Location = 'at-path';
  private detachedAt: number | undefined;
  private lastGrowthAt: number;
  private lastSize = 0;
  /** Size at the last look from either the read loop or refreshLocation(). */
  private heldSize = 0;
  private syncedOffset = -1;
  private syncedAt = 0;
  private readonly waker = new Waker();
  private readonly abort = new AbortController();
  private stopping = false;
  private closed = false;
  private running: Promise<void> | undefined;

  constructor(o: FileReaderOptions) {
    this.path = o.path;
    this.key = o.key;
    this.handle = o.handle;
    this.topic = o.topic;
    this.cfg = o.reader;
    this.rotatedCfg = o.rotated;
    this.budget = o.budget;
    this.sink = o.sink;
    this.store = o.store;
    this.metrics = o.metrics;
    this.logger = o.logger.child({ file: o.path, identity: o.key });
    this.now = o.now ?? Date.now;
    this.onClosed = o.onClosed;
    this.onDetached = o.onDetached;
    this.splitter = new LineSplitter(o.reader.maxLineBytes, o.startOffset);
    this.tracker = new AckTracker(o.startOffset);
    this.head = o.head;
    this.lastGrowthAt = this.now();
    this.metrics.filesOpened.inc();
  }

  /** Offset of the next byte to read. */
  get readOffset(): number {
    return this.splitter.nextOffset;
  }

  get committedOffset(): number {
    return this.tracker.committedOffset;
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

  /** Time of the last read that returned bytes. */
  get lastGrowth(): number {
    return this.lastGrowthAt;
  }

  /** Size at the last check, for the cap on bytes held by deleted files. */
  get size(): number {
    return this.heldSize;
  }

  get detachedSince(): number | undefined {
    return this.detachedAt;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** A filesystem event says the file may have changed: check it now. */
  notify(): void {
    this.waker.wake();
  }

  /**
   * Shutdown: stop reading, ship the unfinished last line, and leave the
   * descriptor open for the final checkpoint sync. close() follows.
   */
  async stopReading(): Promise<void> {
    this.stopping = true;
    this.abort.abort(new Error('reader stopping'));
    this.waker.wake();
    await this.running;
    if (!this.closed) this.flushPartial('shutdown');
  }

  /** Gives up on the file now; what is unacknowledged is counted as abandoned. */
  async abandon(why: string, fromReadLoop = false): Promise<void> {
    if (this.closed) return;
    const lost = Math.max(0, this.heldSize - this.tracker.committedOffset);
    this.metrics.abandonedBytes.inc({}, lost);
    this.logger.warn({ why, abandonedBytes: lost, committedOffset: this.tracker.committedOffset }, 'giving up on rotated file');
    this.stopping = true;
    this.abort.abort(new Error('abandoned'));
    this.waker.wake();
    // From inside the read loop, waiting for the loop would wait for itself.
    if (!fromReadLoop) await this.running;
    await this.close('abandoned');
  }

  /** Records the acknowledged offset in the checkpoint store (no disk write). */
  async syncCheckpoint(): Promise<void> {
    if (this.closed) return;
    const offset = this.tracker.committedOffset;
    const now = this.now();
    // seenAt must stay fresh for pruning even when nothing moves.
    if (offset === this.syncedOffset && this.head.length >= Math.min(HEAD_MAX_BYTES, this.lastSize) && now - this.syncedAt < 60_000) {
      return;
    }
    if (this.head.length < HEAD_MAX_BYTES && this.lastSize > this.head.length) {
      this.head = await readHead(this.handle, this.lastSize);
    }
    const tail = await readTail(this.handle, offset);
    this.store.set(this.key, { path: this.path, offset, head: this.head, tail: tail.toString('base64'), seenAt: now });
    this.syncedOffset = offset;
    this.syncedAt = now;
  }

  /** Closes the descriptor; idempotent. A deleted file's checkpoint goes with it (its inode may be reused). */
  async close(reason: CloseReason): Promise<void> {
    if (this.closed) return;
    if (reason !== 'abandoned' && reason !== 'error') {
      await this.syncCheckpoint().catch((err: unknown) =>
        this.logger.warn({ err: errorMessage(err) }, 'cannot record final checkpoint of file'),
      );
    }
    this.closed = true;
    this.stopping = true;
    this.abort.abort(new Error('reader closed'));
    this.waker.wake();
    if (this.location === 'deleted') this.store.delete(this.key);
    await this.handle.close().catch(() => undefined);
    this.metrics.filesClosed.inc({ reason });
    this.logger.debug({ reason, committedOffset: this.tracker.committedOffset }, 'file closed');
    this.onClosed?.(this, reason);
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    while (!this.stopping) {
      try {
        const done = await this.poll(signal);
        if (done) return;
      } catch (err) {
        if (signal.aborted) return;
        this.metrics.fileErrors.inc();
        this.logger.error({ err: errorMessage(err) }, 'error reading file; closing it (it is retried on the next scan)');
        await this.close('error');
        return;
      }
      await this.waker.wait(this.cfg.pollIntervalMs, signal);
    }
  }

  /** One check of the file; returns true when the reader closed itself. */
  private async poll(signal: AbortSignal): Promise<boolean> {
    // Path first, then descriptor: bytes written before a rename are then
    // always visible in the fstat that follows the stat showing the rename.
    // The other order can see "rotated" with a stale size and close early.
    const atPath = this.location === 'at-path' ? await statPath(this.path) : undefined;
    const facts = await statHandle(this.handle);
    const state = reconcile({ ownKey: this.key, readOffset: this.readOffset, handle: facts, atPath });
    this.lastSize = facts.size;
    this.heldSize = facts.size;
    this.applyLocation(state.location, facts.size);

    if (state.content === 'truncated') this.restartAfterTruncation(facts.size);
    await this.readAvailable(signal);

    const now = this.now();
    const quietMs = now - this.lastGrowthAt;
    const atEof = this.readOffset >= this.lastSize;
    if (atEof && this.splitter.hasPending && quietMs >= this.cfg.partialLineTimeoutMs) this.flushPartial('quiet');

    if (this.location !== 'at-path') {
      if (now - (this.detachedAt ?? now) > this.rotatedCfg.maxHoldMs) {
        await this.abandon(`held longer than LOGAGENT_ROTATED_MAX_HOLD_MS (${this.rotatedCfg.maxHoldMs} ms)`, true);
        return true;
      }
      // Quiet counts from the rotation too: a writer may keep appending to
      // the renamed file until it reopens its log.
      const quietSinceRotation = now - Math.max(this.lastGrowthAt, this.detachedAt ?? 0);
      if (atEof && quietSinceRotation >= this.rotatedCfg.quietMs) {
        // One last look: bytes that arrived since this poll's fstat are read
        // on the next round instead of being dropped with the descriptor.
        if ((await statHandle(this.handle)).size > this.readOffset) return false;
        this.flushPartial('rotated');
        if (this.tracker.pendingCount === 0) {
          await this.close('drained');
          return true;
        }
      }
    }
    return false;
  }

  /**
   * Re-checks whether the path still names this file, without reading. The
   * FileInput calls it from its scan, because a reader waiting on the
   * in-flight budget (Kafka down) does not poll, yet rotation and deletion
   * must still be seen for the hold limits to apply.
   */
  async refreshLocation(): Promise<void> {
    if (this.closed || this.location === 'deleted') return;
    const atPath = this.location === 'at-path' ? await statPath(this.path) : undefined;
    const facts = await statHandle(this.handle);
    this.heldSize = facts.size;
    this.applyLocation(reconcile({ ownKey: this.key, readOffset: this.readOffset, handle: facts, atPath }).location, facts.size);
  }

  private applyLocation(location: Location, size: number): void {
    if (location !== 'at-path' && this.location === 'at-path') {
      this.location = location;
      this.detachedAt = this.now();
      this.metrics.rotations.inc({ kind: location });
      this.logger.info({ how: location, readOffset: this.readOffset, size }, 'file rotated; reading it to its end');
      this.onDetached?.(this);
    } else if (location === 'deleted') {
      this.location = 'deleted';
    }
  }

  private restartAfterTruncation(size: number): void {
    this.metrics.truncations.inc();
    this.logger.warn({ readOffset: this.readOffset, size }, 'file truncated; reading it again from the start');
    this.splitter.reset(0);
    // Acks still due for the old content must not move the new checkpoint:
    // they land on the old tracker, which nothing reads any more.
    this.tracker = new AckTracker(0);
    this.head = { length: 0, sha256: '' };
    this.syncedOffset = -1;
  }

  private async readAvailable(signal: AbortSignal): Promise<void> {
    while (!this.stopping && this.readOffset < this.lastSize) {
      const want = Math.min(this.cfg.readChunkBytes, this.lastSize - this.readOffset);
      await this.budget.reserve(want, signal);
      let bytesRead: number;
      const buf = Buffer.allocUnsafe(want);
      try {
        ({ bytesRead } = await this.handle.read(buf, 0, want, this.readOffset));
      } catch (err) {
        this.budget.release(want);
        throw err;
      }
      if (bytesRead === 0) {
        this.budget.release(want);
        // Shorter than fstat said: truncated between the two calls; the next poll sees it.
        return;
      }
      const lines = this.splitter.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
      const skipped = this.splitter.takeSkippedBytes();
      if (skipped > 0) this.metrics.bytesSkipped.inc({}, skipped);
      let emitted = 0;
      for (const line of lines) emitted += line.bytes.length;
      // The budget counts bytes of lines handed to the sink; the reservation
      // was for what we read. Settle the difference (never waits).
      this.budget.adjust(emitted - want);
      this.lastGrowthAt = this.now();
      this.metrics.bytesRead.inc({}, bytesRead);
      this.metrics.linesRead.inc({}, lines.length);
      for (const line of lines) this.emit(line);
    }
  }

  private flushPartial(why: 'quiet' | 'rotated' | 'shutdown'): void {
    const line = this.splitter.flush();
    if (!line) return;
    this.budget.adjust(line.bytes.length);
    this.metrics.partialLinesFlushed.inc({ why });
    this.metrics.linesRead.inc();
    this.emit(line);
  }

  private emit(line: Line): void {
    const tracker = this.tracker;
    const seq = tracker.issue(line.endOffset);
    const size = line.bytes.length;
    if (line.truncated) {
      this.metrics.linesTruncated.inc({ reason: 'max_line_bytes' });
      this.logger.warn(
        { endOffset: line.endOffset, keptBytes: size, maxLineBytes: this.cfg.maxLineBytes },
        'line longer than LOGAGENT_MAX_LINE_BYTES; shipped truncated',
      );
    }
    const record: OutRecord = {
      topic: this.topic,
      key: this.path,
      value: line.bytes,
      onAck: () => {
        this.budget.release(size);
        tracker.ack(seq);
        if (this.location !== 'at-path') this.waker.wake();
      },
    };
    if (line.truncated) record.headers = { [TRUNCATED_HEADER]: 'true' };
    this.sink.send(record);
  }
}

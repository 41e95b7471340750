// Splits a byte stream into lines. Pure and synchronous: it owns no file and
// no timer, so the reader can be tested apart from it and it apart from the
// filesystem.
//
// Guarantees:
// - Bytes pass through unchanged (no decoding: invalid UTF-8 and binary data
//   are not errors); only the `\n` and one `\r` before it are removed.
// - Every line reports the file offset just past its terminator, so a
//   checkpoint can point at the end of a line, never inside one.
// - Memory is bounded by maxLineBytes: a longer line keeps its first
//   maxLineBytes and the rest is skipped (counted in `skippedBytes`) until its
//   newline; the line is marked truncated.

/**
 * Consecutive lines that live in one buffer. Lines found whole inside a read
 * chunk share the chunk (no copy); a line assembled from several reads, cut
 * for length, or flushed without a newline comes as a run of its own.
 */
export interface LineRun {
  readonly buffer: Buffer;
  /** File offset of buffer[0] (for a run of its own: of the line's first byte). */
  readonly bufferOffset: number;
  /** Start of the first line in buffer. */
  readonly first: number;
  /** Per line: end of its value in buffer (exclusive; the terminator and one \r before it excluded). */
  readonly ends: LineOffsets;
  /** Per line: where the next line starts, relative to bufferOffset (past the terminator). */
  readonly nexts: LineOffsets;
  /** The (single) line was longer than maxLineBytes and was cut. */
  readonly truncated: boolean;
  /** The (single) line had no newline: emitted by flush(). */
  readonly partial: boolean;
}

/** Offsets of lines within a buffer: a plain array, or a view into a read buffer's pooled index. */
export type LineOffsets = ArrayLike<number>;

/**
 * Where push() records the offsets of the lines it finds whole in a chunk:
 * two arrays that live as long as the chunk (they are pooled with it), so a
 * chunk of a million short lines does not allocate two arrays that grow a
 * million times. Runs get views (subarray) into them.
 */
export interface LineIndex {
  ends: Uint32Array;
  nexts: Uint32Array;
}

/** File offset just past the run's last line. */
export function runEndOffset(run: LineRun): number {
  return run.bufferOffset + (run.nexts[run.nexts.length - 1] ?? run.first);
}

/** The values of a run's lines (tests and diagnostics; the hot path never materialises them). */
export function runValues(run: LineRun): Buffer[] {
  return Array.from(run.ends, (end, i) => run.buffer.subarray(i === 0 ? run.first : (run.nexts[i - 1] as number), end));
}

export class LineSplitter {
  readonly maxLineBytes: number;
  /** Offset in the file of the next byte push() expects. */
  private offset: number;
  /**
   * Bytes of the current unfinished line, up to maxLineBytes. The last part
   * may be a view into the chunk last pushed (see detach()).
   */
  private pending: Buffer[] = [];
  /** pending's last part is a view into a caller's chunk, not a copy. */
  private pendingIsView = false;
  /** Bytes the caller took with takeCarry() and will put in front of the next chunk. */
  private carried = 0;
  private pendingBytes = 0;
  /** Bytes of the current unfinished line that were skipped for being past maxLineBytes. */
  private pendingSkipped = 0;
  /** The current unfinished line already exceeded maxLineBytes. */
  private overflowing = false;
  /** Bytes dropped from over-long lines since the last call to takeSkippedBytes(). */
  private skippedBytes = 0;

  constructor(maxLineBytes: number, startOffset = 0) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes <= 0) throw new RangeError('maxLineBytes must be a positive integer');
    this.maxLineBytes = maxLineBytes;
    this.offset = startOffset;
  }

  /** Offset of the next byte to be pushed. */
  get nextOffset(): number {
    return this.offset;
  }

  /** The unfinished line views the chunk last pushed (detach() or takeCarry() before reusing that chunk). */
  get holdsView(): boolean {
    return this.pendingIsView;
  }

  /** Bytes held for an unfinished line (not counting skipped ones). */
  get pendingLength(): number {
    return this.pendingBytes;
  }

  /** True when an unfinished line (possibly empty-but-overflowing) is held. */
  get hasPending(): boolean {
    return this.pendingBytes > 0 || this.overflowing || this.carried > 0;
  }

  /** Start offset of the unfinished line, i.e. the end of the last complete one. */
  get lineStartOffset(): number {
    return this.offset - this.pendingBytes - this.pendingSkipped - this.carried;
  }

  takeSkippedBytes(): number {
    const n = this.skippedBytes;
    this.skippedBytes = 0;
    return n;
  }

  /**
   * Bytes of the unfinished line the caller may move to the front of its
   * next chunk (see takeCarry); 0 when there is none or it is being skipped
   * for length.
   */
  get carryLength(): number {
    return this.overflowing ? 0 : this.pendingBytes;
  }

  /**
   * Copies the unfinished line into `into` (from 0) and forgets it: the
   * caller passes the same bytes as the head of its next chunk, with
   * push(chunk, carryLength). The line is then found whole in that chunk and
   * shipped as a view into it, instead of being assembled from copies.
   */
  takeCarry(into: Buffer): number {
    const n = this.carryLength;
    if (n === 0) return 0;
    let at = 0;
    for (const part of this.pending) at += part.copy(into, at);
    this.pending = [];
    this.pendingIsView = false;
    this.pendingBytes = 0;
    this.carried = n;
    return n;
  }

  /** The carried bytes were not pushed after all (the read failed or found nothing): keep them again. */
  uncarry(bytes: Buffer): void {
    if (bytes.length !== this.carried) throw new Error(`uncarry: ${bytes.length} bytes, takeCarry gave ${this.carried}`);
    if (bytes.length === 0) return;
    this.pending = [Buffer.from(bytes)];
    this.pendingBytes = bytes.length;
    this.carried = 0;
  }

  /**
   * Copies a pending view into memory of its own. push() leaves the
   * unfinished line as a view into the chunk; the caller calls this (or
   * takeCarry) before it reuses or releases that chunk.
   */
  detach(): void {
    if (!this.pendingIsView) return;
    const last = this.pending.length - 1;
    this.pending[last] = Buffer.from(this.pending[last] as Buffer);
    this.pendingIsView = false;
  }

  /**
   * Splits `chunk`. Its first `carried` bytes are the unfinished line the
   * caller took with takeCarry(); without that, the unfinished line is copied
   * out of the chunk it views (which must not have been reused yet). Offsets of lines found whole in the chunk
   * go to `index` when given (growing it if needed: index.ends may be
   * replaced), otherwise to arrays of their own.
   */
  push(chunk: Buffer, carried = 0, index?: LineIndex): LineRun[] {
    if (carried !== this.carried) throw new Error(`push: ${carried} carried bytes, takeCarry gave ${this.carried}`);
    // Pushed without carrying: the unfinished line continues here as before (from a copy).
    this.detach();
    this.carried = 0;
    const runs: LineRun[] = [];
    const base = this.offset - carried;
    let first = -1;
    let runFrom = 0;
    let n = 0;
    let ends: number[] | undefined;
    let nexts: number[] | undefined;
    if (!index) {
      ends = [];
      nexts = [];
    }
    const closeRun = (): void => {
      if (first < 0) return;
      if (index) {
        runs.push({
          buffer: chunk,
          bufferOffset: base,
          first,
          ends: index.ends.subarray(runFrom, n),
          nexts: index.nexts.subarray(runFrom, n),
          truncated: false,
          partial: false,
        });
        runFrom = n;
      } else {
        runs.push({
          buffer: chunk,
          bufferOffset: base,
          first,
          ends: ends as number[],
          nexts: nexts as number[],
          truncated: false,
          partial: false,
        });
        ends = [];
        nexts = [];
      }
      first = -1;
    };
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) {
        this.hold(chunk.subarray(start), true);
        break;
      }
      if (!this.hasPending && nl - start <= this.maxLineBytes) {
        // Fast path: the whole line is inside this chunk; no copy.
        if (first < 0) first = start;
        const end = nl > start && chunk[nl - 1] === 0x0d ? nl - 1 : nl;
        if (index) {
          if (n === index.ends.length) growIndex(index, n);
          index.ends[n] = end;
          index.nexts[n] = nl + 1;
          n++;
        } else {
          (ends as number[]).push(end);
          (nexts as number[]).push(nl + 1);
        }
      } else {
        closeRun();
        this.hold(chunk.subarray(start, nl), false);
        runs.push(this.takeLine(base + nl + 1, false));
      }
      start = nl + 1;
    }
    closeRun();
    this.offset = base + chunk.length;
    return runs;
  }

  /** Emits the unfinished line, if any, as a partial line ending at the current offset. */
  flush(): LineRun | undefined {
    if (!this.hasPending) return undefined;
    return this.takeLine(this.offset, true);
  }

  /** Forgets any unfinished line and restarts at `offset` (truncation, reopen). */
  reset(offset: number): void {
    this.pending = [];
    this.pendingIsView = false;
    this.carried = 0;
    this.pendingBytes = 0;
    this.pendingSkipped = 0;
    this.overflowing = false;
    this.offset = offset;
  }

  /**
   * Keeps part of the unfinished line. `view`: the tail of a chunk, kept as a
   * view until the caller detaches or carries it (a slow writer finishing
   * the line must not pin the whole chunk); otherwise copied.
   */
  private hold(part: Buffer, view: boolean): void {
    if (part.length === 0) return;
    this.detach();
    const room = this.maxLineBytes - this.pendingBytes;
    if (part.length <= room) {
      this.pending.push(view ? part : Buffer.from(part));
      this.pendingIsView = view;
      this.pendingBytes += part.length;
      return;
    }
    if (room > 0) {
      this.pending.push(Buffer.from(part.subarray(0, room)));
      this.pendingBytes += room;
    }
    this.overflowing = true;
    this.skippedBytes += part.length - room;
    this.pendingSkipped += part.length - room;
  }

  private takeLine(endOffset: number, partial: boolean): LineRun {
    const lineStart = endOffset - (partial ? 0 : 1) - this.pendingBytes - this.pendingSkipped;
    let bytes: Buffer;
    if (this.pending.length === 1 && !this.pendingIsView) bytes = this.pending[0] as Buffer;
    else bytes = Buffer.concat(this.pending, this.pendingBytes);
    // A CRLF line ends in \r; the \r belongs to the terminator. A truncated
    // line's last kept byte is not its real end, so it keeps any \r.
    if (!partial && !this.overflowing && bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) {
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    const run: LineRun = {
      buffer: bytes,
      bufferOffset: lineStart,
      first: 0,
      ends: [bytes.length],
      nexts: [endOffset - lineStart],
      truncated: this.overflowing,
      partial,
    };
    this.pending = [];
    this.pendingIsView = false;
    this.pendingBytes = 0;
    this.pendingSkipped = 0;
    this.overflowing = false;
    return run;
  }
}

/** Doubles an index that is full; lines already recorded keep their views of the old arrays. */
function growIndex(index: LineIndex, used: number): void {
  const size = Math.max(16, index.ends.length * 2);
  const ends = new Uint32Array(size);
  const nexts = new Uint32Array(size);
  ends.set(index.ends.subarray(0, used));
  nexts.set(index.nexts.subarray(0, used));
  index.ends = ends;
  index.nexts = nexts;
}

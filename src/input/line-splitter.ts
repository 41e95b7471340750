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
  readonly ends: number[];
  /** Per line: where the next line starts, relative to bufferOffset (past the terminator). */
  readonly nexts: number[];
  /** The (single) line was longer than maxLineBytes and was cut. */
  readonly truncated: boolean;
  /** The (single) line had no newline: emitted by flush(). */
  readonly partial: boolean;
}

/** File offset just past the run's last line. */
export function runEndOffset(run: LineRun): number {
  return run.bufferOffset + (run.nexts[run.nexts.length - 1] ?? run.first);
}

/** The values of a run's lines (tests and diagnostics; the hot path never materialises them). */
export function runValues(run: LineRun): Buffer[] {
  return run.ends.map((end, i) => run.buffer.subarray(i === 0 ? run.first : (run.nexts[i - 1] as number), end));
}

export class LineSplitter {
  readonly maxLineBytes: number;
  /** Offset in the file of the next byte push() expects. */
  private offset: number;
  /** Bytes of the current unfinished line, up to maxLineBytes. */
  private pending: Buffer[] = [];
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

  /** Bytes held for an unfinished line (not counting skipped ones). */
  get pendingLength(): number {
    return this.pendingBytes;
  }

  /** True when an unfinished line (possibly empty-but-overflowing) is held. */
  get hasPending(): boolean {
    return this.pendingBytes > 0 || this.overflowing;
  }

  /** Start offset of the unfinished line, i.e. the end of the last complete one. */
  get lineStartOffset(): number {
    return this.offset - this.pendingBytes - this.pendingSkipped;
  }

  takeSkippedBytes(): number {
    const n = this.skippedBytes;
    this.skippedBytes = 0;
    return n;
  }

  push(chunk: Buffer): LineRun[] {
    const runs: LineRun[] = [];
    const base = this.offset;
    let first = -1;
    let ends: number[] = [];
    let nexts: number[] = [];
    const closeRun = (): void => {
      if (first < 0) return;
      runs.push({ buffer: chunk, bufferOffset: base, first, ends, nexts, truncated: false, partial: false });
      first = -1;
      ends = [];
      nexts = [];
    };
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) {
        this.hold(chunk.subarray(start));
        break;
      }
      if (!this.hasPending && nl - start <= this.maxLineBytes) {
        // Fast path: the whole line is inside this chunk; no copy.
        if (first < 0) first = start;
        ends.push(nl > start && chunk[nl - 1] === 0x0d ? nl - 1 : nl);
        nexts.push(nl + 1);
      } else {
        closeRun();
        this.hold(chunk.subarray(start, nl));
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
    this.pendingBytes = 0;
    this.pendingSkipped = 0;
    this.overflowing = false;
    this.offset = offset;
  }

  private hold(part: Buffer): void {
    if (part.length === 0) return;
    const room = this.maxLineBytes - this.pendingBytes;
    if (part.length <= room) {
      // Copy: a subarray would keep the whole read chunk alive while a slow
      // writer finishes the line.
      this.pending.push(Buffer.from(part));
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
    if (this.pending.length === 1) bytes = this.pending[0] as Buffer;
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
    this.pendingBytes = 0;
    this.pendingSkipped = 0;
    this.overflowing = false;
    return run;
  }
}

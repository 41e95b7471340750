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

export interface Line {
  /** The line's bytes without the terminator. May share memory with the chunk it came from. */
  readonly bytes: Buffer;
  /** File offset just past the line's terminator (or past its last byte for a flushed partial line). */
  readonly endOffset: number;
  /** The line was longer than maxLineBytes and was cut. */
  readonly truncated: boolean;
  /** The line had no newline: emitted by flush(). */
  readonly partial: boolean;
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

  push(chunk: Buffer): Line[] {
    const lines: Line[] = [];
    let start = 0;
    const base = this.offset;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) {
        this.hold(chunk.subarray(start));
        break;
      }
      if (!this.hasPending && nl - start <= this.maxLineBytes) {
        // Fast path: the whole line is inside this chunk; no copy.
        const end = nl > start && chunk[nl - 1] === 0x0d ? nl - 1 : nl;
        lines.push({ bytes: chunk.subarray(start, end), endOffset: base + nl + 1, truncated: false, partial: false });
      } else {
        this.hold(chunk.subarray(start, nl));
        lines.push(this.takeLine(base + nl + 1, false));
      }
      start = nl + 1;
    }
    this.offset = base + chunk.length;
    return lines;
  }

  /** Emits the unfinished line, if any, as a partial line ending at the current offset. */
  flush(): Line | undefined {
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

  private takeLine(endOffset: number, partial: boolean): Line {
    let bytes: Buffer;
    if (this.pending.length === 1) bytes = this.pending[0] as Buffer;
    else bytes = Buffer.concat(this.pending, this.pendingBytes);
    // A CRLF line ends in \r; the \r belongs to the terminator. A truncated
    // line's last kept byte is not its real end, so it keeps any \r.
    if (!partial && !this.overflowing && bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) {
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    const line: Line = { bytes, endOffset, truncated: this.overflowing, partial };
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingSkipped = 0;
    this.overflowing = false;
    return line;
  }
}

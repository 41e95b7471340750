// Joins the lines of one event (a Java stack trace, a Python traceback)
// into one record. A line matching the start pattern begins a new event;
// any other line continues the current one. Pure and synchronous: it owns
// no file and no timer; the reader flushes the last event when the file has
// been quiet for the timeout, rotates or the agent stops.
//
// Offsets make restarts exact: an event ends where its last line ends, and
// an event still being assembled is not emitted, so a checkpoint never
// falls inside one and a restart re-reads an unfinished event from its
// first line: never split, never repeated.
//
// Bounded: past maxLines or maxBytes the event keeps what it has, is marked
// truncated, and further lines of it are skipped (counted) while its end
// offset still advances, so the skipped lines are not read again either.

export interface MultilineConfig {
  /** A line matching this starts a new event. */
  readonly start: RegExp;
  readonly maxLines: number;
  readonly maxBytes: number;
}

export interface MultilineEvent {
  /** The event's lines joined by "\n" (at most maxBytes). */
  readonly bytes: Buffer;
  /** File offset of the event's first byte. */
  readonly startOffset: number;
  /** File offset just past its last line's terminator. */
  readonly endOffset: number;
  readonly lines: number;
  readonly truncated: boolean;
}

const NEWLINE = Buffer.from('\n');

export class MultilineAggregator {
  private readonly cfg: MultilineConfig;
  private parts: Buffer[] = [];
  private bytes = 0;
  private lines = 0;
  private startOffset = 0;
  private endOffset = 0;
  private truncated = false;
  private skipped = 0;

  constructor(cfg: MultilineConfig) {
    this.cfg = cfg;
  }

  get hasPending(): boolean {
    return this.lines > 0;
  }

  /** Bytes held for the event being assembled. */
  get pendingBytes(): number {
    return this.bytes;
  }

  /** Bytes of lines skipped for being past maxLines or maxBytes since the last call. */
  takeSkippedBytes(): number {
    const n = this.skipped;
    this.skipped = 0;
    return n;
  }

  /**
   * One complete line: its value (without terminator), where it starts and
   * where the next line starts. Returns the event this line completed, if
   * it starts a new one.
   */
  push(value: Buffer, startOffset: number, endOffset: number): MultilineEvent | undefined {
    let done: MultilineEvent | undefined;
    if (this.lines > 0 && this.cfg.start.test(value.toString('utf8'))) done = this.take();
    if (this.lines === 0) this.startOffset = startOffset;
    this.endOffset = endOffset;
    this.lines++;
    const sep = this.parts.length > 0 ? 1 : 0;
    if (this.truncated || this.lines > this.cfg.maxLines || this.bytes + sep + value.length > this.cfg.maxBytes) {
      const room = this.truncated || this.lines > this.cfg.maxLines ? 0 : Math.max(0, this.cfg.maxBytes - this.bytes - sep);
      if (room > 0) this.keep(value.subarray(0, room), sep);
      this.skipped += value.length - room;
      this.truncated = true;
      return done;
    }
    this.keep(value, sep);
    return done;
  }

  /** The event being assembled, if any (quiet timeout, rotation, shutdown). */
  flush(): MultilineEvent | undefined {
    return this.lines > 0 ? this.take() : undefined;
  }

  /** Forgets the event being assembled (truncation of the file). */
  reset(): void {
    this.parts = [];
    this.bytes = 0;
    this.lines = 0;
    this.truncated = false;
  }

  private keep(value: Buffer, sep: number): void {
    if (sep) this.parts.push(NEWLINE);
    // A copy: the value is a view into a read buffer the event may outlive.
    this.parts.push(Buffer.from(value));
    this.bytes += sep + value.length;
  }

  private take(): MultilineEvent {
    const event: MultilineEvent = {
      bytes: this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.bytes),
      startOffset: this.startOffset,
      endOffset: this.endOffset,
      lines: this.lines,
      truncated: this.truncated,
    };
    this.reset();
    return event;
  }
}

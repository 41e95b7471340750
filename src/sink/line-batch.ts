// LineBatch: the unit handed from a file reader to the sink. One read of a
// file becomes one batch (or a few, around an over-long or completed partial
// line): the read buffer itself plus two numbers per line, so a line in
// flight costs its bytes and 16 bytes, not a Buffer object, a record object
// and a closure. Values are views into the buffer, made only while a produce
// request is being built.
//
// A batch is acknowledged as a whole: the sink counts acknowledged lines and
// tells the owner once all of them are in, which is when the owner's
// checkpoint may move past the batch's last line.

export interface BatchOwner {
  /** Every line of `batch` was acknowledged by Kafka (or sent, with acks=0). */
  onBatchAcked(batch: LineBatch): void;
}

export interface LineBatchInit {
  readonly owner: BatchOwner;
  readonly seq: number;
  /** The file's identity (device:inode): the stable source id of its lines. */
  readonly identity: string;
  readonly topic: string;
  /** The Kafka message key of every line (the file path by default). */
  readonly key: string | null;
  readonly buffer: Buffer;
  /** File offset of buffer[0]. */
  readonly bufferOffset: number;
  /** Start of line 0 in buffer. */
  readonly first: number;
  /** Per line: end of its value in buffer (exclusive; terminator excluded). */
  readonly ends: number[];
  /** Per line: where the next line starts, relative to bufferOffset (past the terminator). */
  readonly nexts: number[];
  /** The (single) line was longer than the maximum and was cut. */
  readonly truncated: boolean;
  /** Budget bytes this batch holds until acknowledged. */
  readonly chargedBytes: number;
  /** Epoch ms when the bytes were read (read-to-acknowledged latency). */
  readonly readAt: number;
}

export class LineBatch {
  readonly owner: BatchOwner;
  readonly seq: number;
  readonly identity: string;
  readonly topic: string;
  readonly key: string | null;
  readonly buffer: Buffer;
  readonly bufferOffset: number;
  readonly first: number;
  readonly ends: number[];
  readonly nexts: number[];
  readonly truncated: boolean;
  readonly chargedBytes: number;
  readonly readAt: number;
  /** Lines acknowledged so far (a batch may span produce requests). */
  ackedLines = 0;
  /** Values the sink had to cut after the broker refused them as too large, by line index. */
  private cut: Map<number, Buffer> | undefined;

  constructor(init: LineBatchInit) {
    this.owner = init.owner;
    this.seq = init.seq;
    this.identity = init.identity;
    this.topic = init.topic;
    this.key = init.key;
    this.buffer = init.buffer;
    this.bufferOffset = init.bufferOffset;
    this.first = init.first;
    this.ends = init.ends;
    this.nexts = init.nexts;
    this.truncated = init.truncated;
    this.chargedBytes = init.chargedBytes;
    this.readAt = init.readAt;
  }

  get count(): number {
    return this.ends.length;
  }

  /** File offset just past the last line (its checkpoint once acknowledged). */
  get endOffset(): number {
    return this.bufferOffset + (this.nexts[this.nexts.length - 1] ?? this.first);
  }

  /** Start of line i in the buffer. */
  start(i: number): number {
    return i === 0 ? this.first : (this.nexts[i - 1] as number);
  }

  /** File offset of the first byte of line i. */
  lineOffset(i: number): number {
    return this.bufferOffset + this.start(i);
  }

  valueLength(i: number): number {
    const cut = this.cut?.get(i);
    return cut ? cut.length : (this.ends[i] as number) - this.start(i);
  }

  /** Line i's value: a view into the read buffer. */
  value(i: number): Buffer {
    return this.cut?.get(i) ?? this.buffer.subarray(this.start(i), this.ends[i]);
  }

  isTruncated(i: number): boolean {
    return this.truncated || (this.cut?.has(i) ?? false);
  }

  /** Bytes of all values. */
  get valueBytes(): number {
    let n = 0;
    for (let i = 0; i < this.ends.length; i++) n += this.valueLength(i);
    return n;
  }

  /** The broker refused line i as too large: ship its first `keep` bytes instead, marked truncated. */
  cutValue(i: number, keep: number): void {
    this.cut ??= new Map();
    this.cut.set(i, this.value(i).subarray(0, keep));
  }
}

// LineBatch: the unit handed from a file reader to the sink. One read of a
// file becomes one batch (or a few, around an over-long or completed partial
// line): the read buffer itself plus two numbers per line, so a raw line in
// flight costs its bytes and a few dozen bytes, not a Buffer object, a
// record object and a closure. Values are views into the buffer, made only
// while a produce request is being built.
//
// An input that shapes its records (JSON envelope, multiline events, a key
// per line) hands over an encoded batch instead: its values packed in one
// buffer with their own start and end positions, each record's file offset,
// and optionally a key and a truncation mark per record.
//
// A batch is acknowledged as a whole: the sink counts acknowledged lines and
// tells the owner once all of them are in, which is when the owner's
// checkpoint may move past the batch's last line.

export interface BatchOwner {
  /** Every line of `batch` was acknowledged by Kafka (or sent, with acks=0). */
  onBatchAcked(batch: LineBatch): void;
}

/** Static headers of a route, encoded once: [name, value] pairs. */
export type StaticHeaders = ReadonlyArray<readonly [string, Buffer]>;

/** Record headers every record carries, so a consumer can drop duplicates: the source (file content) and the line's byte offset in it. */
export const SOURCE_HEADER = 'logagent.source';
export const OFFSET_HEADER = 'logagent.offset';
export const TRUNCATED_HEADER = 'logagent.truncated';

/** A record's fixed fields at their largest: length, attributes, timestamp delta, offset delta, key and value lengths (varints). */
const RECORD_OVERHEAD_BYTES = 5 + 1 + 10 + 5 + 5 + 5;
/** The logagent.truncated header: name, "true" and their varints. */
const TRUNCATED_HEADER_BYTES = 1 + TRUNCATED_HEADER.length + 1 + 'true'.length;

export interface LineBatchInit {
  readonly owner: BatchOwner;
  readonly seq: number;
  /** The file's identity (device:inode). */
  readonly identity: string;
  /** Stable id of the file's content (identity plus when this content began): the value of the logagent.source header. Default: the identity. */
  readonly source?: string | undefined;
  readonly topic: string;
  /** The Kafka message key of every record (the file path by default); per-record keys in `keys` win. */
  readonly key: string | null;
  readonly headers?: StaticHeaders | undefined;
  readonly buffer: Buffer;
  /** File offset of buffer[0] (raw batches). */
  readonly bufferOffset: number;
  /** Start of record 0 in buffer (raw batches). */
  readonly first: number;
  /** Per record: end of its value in buffer (exclusive). */
  readonly ends: ArrayLike<number>;
  /**
   * Raw batches: per line, where the next line starts, relative to
   * bufferOffset (past the terminator). Encoded batches: per record, the
   * file offset just past its last line, absolute.
   */
  readonly nexts: ArrayLike<number>;
  /** Encoded batches: per record, the start of its value in buffer (raw: the previous line's next). */
  readonly starts?: number[] | undefined;
  /** Encoded batches: per record, the file offset of its first byte. */
  readonly offsets?: number[] | undefined;
  /** Per record keys (key: field:<name>). */
  readonly keys?: Array<string | null> | undefined;
  /** The (single) line was longer than the maximum and was cut (raw batches). */
  readonly truncated: boolean;
  /** Encoded batches: per record, cut for length. */
  readonly truncatedRecords?: boolean[] | undefined;
  /** Budget bytes this batch holds until acknowledged. */
  readonly chargedBytes: number;
  /** Epoch ms when the bytes were read (read-to-acknowledged latency; the records' timestamp). */
  readonly readAt: number;
}

export class LineBatch {
  readonly owner: BatchOwner;
  readonly seq: number;
  readonly identity: string;
  readonly source: string;
  readonly topic: string;
  readonly key: string | null;
  readonly headers: StaticHeaders | undefined;
  readonly buffer: Buffer;
  readonly bufferOffset: number;
  readonly first: number;
  readonly ends: ArrayLike<number>;
  readonly nexts: ArrayLike<number>;
  readonly truncated: boolean;
  readonly chargedBytes: number;
  readonly readAt: number;
  private readonly starts: number[] | undefined;
  private readonly offsets: number[] | undefined;
  private readonly keys: Array<string | null> | undefined;
  private readonly truncatedRecords: boolean[] | undefined;
  /** Lines acknowledged so far (a batch may span produce requests). */
  ackedLines = 0;
  /** The reusable read buffer this batch views (the reader returns it once every batch viewing it is acknowledged). */
  chunk: { release(): void } | undefined;
  /** Values the sink had to cut after the broker refused them as too large, by record index. */
  private cut: Map<number, Buffer> | undefined;

  constructor(init: LineBatchInit) {
    this.owner = init.owner;
    this.seq = init.seq;
    this.identity = init.identity;
    this.source = init.source ?? init.identity;
    this.topic = init.topic;
    this.key = init.key;
    this.headers = init.headers;
    this.buffer = init.buffer;
    this.bufferOffset = init.bufferOffset;
    this.first = init.first;
    this.ends = init.ends;
    this.nexts = init.nexts;
    this.truncated = init.truncated;
    this.chargedBytes = init.chargedBytes;
    this.readAt = init.readAt;
    this.starts = init.starts;
    this.offsets = init.offsets;
    this.keys = init.keys;
    this.truncatedRecords = init.truncatedRecords;
  }

  get count(): number {
    return this.ends.length;
  }

  /** File offset just past the last record (its checkpoint once acknowledged). */
  get endOffset(): number {
    const last = this.nexts[this.nexts.length - 1];
    if (this.offsets) return last ?? 0;
    return this.bufferOffset + (last ?? this.first);
  }

  /** Start of record i's value in the buffer. */
  start(i: number): number {
    if (this.starts) return this.starts[i] as number;
    return i === 0 ? this.first : (this.nexts[i - 1] as number);
  }

  /** File offset of the first byte of record i. */
  lineOffset(i: number): number {
    if (this.offsets) return this.offsets[i] as number;
    return this.bufferOffset + this.start(i);
  }

  /** The Kafka key of record i. */
  keyAt(i: number): string | null {
    return this.keys ? (this.keys[i] ?? null) : this.key;
  }

  /** Whether records may have different keys (the partitioner then places them one by one). */
  get hasRecordKeys(): boolean {
    return this.keys !== undefined;
  }

  /**
   * Upper bound of record i's bytes in a record batch, before compression:
   * value, key, static headers, logagent.source and logagent.offset, the
   * truncation mark, and the record's own varints. Batches are cut by it, so
   * it must not fall short: the broker refuses a batch over its
   * message.max.bytes (1 MiB by default), and resending it split costs a
   * round trip.
   */
  recordSizeBound(i: number): number {
    const key = this.keys ? Buffer.byteLength(this.keys[i] ?? '') : this.keyBytes();
    return this.valueLength(i) + key + this.headerBytes() + RECORD_OVERHEAD_BYTES + (this.isTruncated(i) ? TRUNCATED_HEADER_BYTES : 0);
  }

  private cachedKeyBytes = -1;
  private keyBytes(): number {
    if (this.cachedKeyBytes < 0) this.cachedKeyBytes = this.key === null ? 0 : Buffer.byteLength(this.key);
    return this.cachedKeyBytes;
  }

  private cachedHeaderBytes = -1;
  /** Headers of every record, with their count: static ones, logagent.source, logagent.offset (up to 15 digits); varints at their largest. */
  private headerBytes(): number {
    if (this.cachedHeaderBytes < 0) {
      let n = 5;
      n += 1 + SOURCE_HEADER.length + 5 + Buffer.byteLength(this.source);
      n += 1 + OFFSET_HEADER.length + 1 + 15;
      for (const [k, v] of this.headers ?? []) n += 5 + Buffer.byteLength(k) + 5 + v.length;
      this.cachedHeaderBytes = n;
    }
    return this.cachedHeaderBytes;
  }

  valueLength(i: number): number {
    const cut = this.cut?.get(i);
    return cut ? cut.length : (this.ends[i] as number) - this.start(i);
  }

  /** Record i's value: a view into the buffer. */
  value(i: number): Buffer {
    return this.cut?.get(i) ?? this.buffer.subarray(this.start(i), this.ends[i]);
  }

  isTruncated(i: number): boolean {
    return this.truncated || (this.truncatedRecords?.[i] ?? false) || (this.cut?.has(i) ?? false);
  }

  /** Bytes of all values. */
  get valueBytes(): number {
    let n = 0;
    for (let i = 0; i < this.ends.length; i++) n += this.valueLength(i);
    return n;
  }

  /**
   * Every header of record i, in order: the route's static headers, the
   * source and offset headers, and the truncation mark when cut.
   */
  headersAt(i: number): Array<readonly [string, Buffer]> {
    const out: Array<readonly [string, Buffer]> = this.headers ? [...this.headers] : [];
    out.push([SOURCE_HEADER, Buffer.from(this.source)], [OFFSET_HEADER, Buffer.from(String(this.lineOffset(i)))]);
    if (this.isTruncated(i)) out.push([TRUNCATED_HEADER, Buffer.from('true')]);
    return out;
  }

  /** The broker refused record i as too large: ship its first `keep` bytes instead, marked truncated. */
  cutValue(i: number, keep: number): void {
    this.cut ??= new Map();
    this.cut.set(i, this.value(i).subarray(0, keep));
  }
}

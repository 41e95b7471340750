// Record batch v2 (magic 2), written straight from LineBatches: a record's
// value is a view into the read buffer (LineBatch.value), its key the
// batch's key, its timestamp the batch's read time (CreateTime). Sizes are
// arithmetic, so a batch is measured first and then written once into the
// request buffer (no per-record Buffer, no growing encoder); with a codec,
// the records go to one scratch buffer of their exact size, are compressed,
// and the compressed bytes are copied into the request.
//
// Layout (Kafka's DefaultRecordBatch): baseOffset i64, batchLength i32,
// partitionLeaderEpoch i32, magic i8, crc u32 (CRC-32C of everything after
// it), attributes i16, lastOffsetDelta i32, baseTimestamp i64,
// maxTimestamp i64, producerId i64, producerEpoch i16, baseSequence i32,
// record count i32, records. A record: length varint, attributes i8,
// timestampDelta varlong, offsetDelta varint, key, value (varint length +
// bytes, -1 for null), header count varint, headers (key, value alike).

import type { CompressionName } from '../../config/config.ts';
import { CODEC_IDS, compress } from '../compression.ts';
import { OFFSET_HEADER, SOURCE_HEADER, TRUNCATED_HEADER, type LineBatch, type StaticHeaders } from '../line-batch.ts';
import { crc32c } from './crc32c.ts';
import { uvarintSize, varintSize, Writer } from './wire.ts';

export const BATCH_HEADER_BYTES = 61;
/** Offset of the attributes field: the CRC covers [CRC_START, end). */
const CRC_START = 21;

/** A run of lines of one LineBatch: positions [from, to) of `lines`, or line indices [from, to) when `lines` is null. */
export interface Slice {
  readonly batch: LineBatch;
  readonly from: number;
  readonly to: number;
  readonly lines: Uint16Array | Uint32Array | null;
}

export function lineOf(s: Slice, k: number): number {
  return s.lines === null ? k : (s.lines[k] as number);
}

/** Producer id, epoch and first sequence of a batch; all -1 without idempotence. */
export interface Stamp {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
}

export const NO_STAMP: Stamp = { producerId: -1, producerEpoch: -1, baseSequence: -1 };

/** The headers of each record, sized and written without an object per record. */
export interface RecordHeaders {
  /** Bytes of line i's header section: the count varint and every header. */
  size(batch: LineBatch, i: number): number;
  write(w: Writer, batch: LineBatch, i: number): void;
}

export { TRUNCATED_HEADER };
const TRUNCATED_KEY = Buffer.from(TRUNCATED_HEADER);
const TRUNCATED_VALUE = Buffer.from('true');
const TRUNCATED_BYTES =
  varintSize(TRUNCATED_KEY.length) + TRUNCATED_KEY.length + varintSize(TRUNCATED_VALUE.length) + TRUNCATED_VALUE.length;
const SOURCE_KEY = Buffer.from(SOURCE_HEADER);
const OFFSET_KEY = Buffer.from(OFFSET_HEADER);

/** Decimal digits of a non-negative integer (an offset). */
function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** A route's static headers as they go on the wire: every record of the route repeats the same bytes. */
interface StaticSection {
  readonly count: number;
  readonly bytes: Buffer;
}

const NO_STATICS: StaticSection = { count: 0, bytes: Buffer.alloc(0) };

/**
 * Every record's headers: the route's static headers, logagent.source (the
 * file content's stable id) and logagent.offset (the line's byte offset, in
 * decimal), and logagent.truncated: true on a record that was cut. Called
 * twice per record (size, then write), so nothing here allocates per
 * record: the static section is encoded once per route, the source once per
 * file, and the offset's digits go straight into the request buffer.
 */
export class LogagentHeaders implements RecordHeaders {
  private readonly sources = new KeyCache();
  private readonly statics = new WeakMap<StaticHeaders, StaticSection>();

  private staticSection(batch: LineBatch): StaticSection {
    const headers = batch.headers;
    if (headers === undefined || headers.length === 0) return NO_STATICS;
    let section = this.statics.get(headers);
    if (section === undefined) {
      const w = new Writer(Buffer.alloc(headers.reduce((n, [k, v]) => n + sizedBytes(Buffer.byteLength(k)) + sizedBytes(v.length), 0)));
      for (const [k, v] of headers) {
        const key = Buffer.from(k);
        w.varint(key.length);
        w.raw(key);
        w.varint(v.length);
        w.raw(v);
      }
      section = { count: headers.length, bytes: w.buf };
      this.statics.set(headers, section);
    }
    return section;
  }

  size(batch: LineBatch, i: number): number {
    const statics = this.staticSection(batch);
    const source = this.sources.get(batch.source) as Buffer;
    const truncated = batch.isTruncated(i);
    return (
      varintSize(statics.count + 2 + (truncated ? 1 : 0)) +
      statics.bytes.length +
      sizedBytes(SOURCE_KEY.length) +
      sizedBytes(source.length) +
      sizedBytes(OFFSET_KEY.length) +
      sizedBytes(digits(batch.lineOffset(i))) +
      (truncated ? TRUNCATED_BYTES : 0)
    );
  }

  write(w: Writer, batch: LineBatch, i: number): void {
    const statics = this.staticSection(batch);
    const truncated = batch.isTruncated(i);
    w.varint(statics.count + 2 + (truncated ? 1 : 0));
    w.raw(statics.bytes);
    const source = this.sources.get(batch.source) as Buffer;
    w.varint(SOURCE_KEY.length);
    w.raw(SOURCE_KEY);
    w.varint(source.length);
    w.raw(source);
    w.varint(OFFSET_KEY.length);
    w.raw(OFFSET_KEY);
    const offset = batch.lineOffset(i);
    const d = digits(offset);
    w.varint(d);
    let rest = offset;
    for (let p = w.offset + d - 1; p >= w.offset; p--) {
      w.buf[p] = 0x30 + (rest % 10);
      rest = Math.floor(rest / 10);
    }
    w.offset += d;
    if (truncated) {
      w.varint(TRUNCATED_KEY.length);
      w.raw(TRUNCATED_KEY);
      w.varint(TRUNCATED_VALUE.length);
      w.raw(TRUNCATED_VALUE);
    }
  }
}

/** UTF-8 bytes of batch keys; every line of a file has the same key, so this is hit once per batch. */
export class KeyCache {
  private readonly map = new Map<string, Buffer>();
  get(key: string | null): Buffer | null {
    if (key === null) return null;
    let b = this.map.get(key);
    if (b === undefined) {
      if (this.map.size >= 1024) this.map.clear();
      b = Buffer.from(key, 'utf8');
      this.map.set(key, b);
    }
    return b;
  }
}

export interface RecordsLayout {
  readonly count: number;
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
  /** Bytes of the records, uncompressed. */
  readonly bytes: number;
  /** Bytes of keys and values (the batchBytes metric). */
  readonly payloadBytes: number;
}

function sizedBytes(n: number): number {
  return varintSize(n) + n;
}

export function measureRecords(slices: readonly Slice[], headers: RecordHeaders, keys: KeyCache): RecordsLayout {
  const first = slices[0];
  const firstTimestamp = first ? first.batch.readAt : 0;
  let maxTimestamp = firstTimestamp;
  let bytes = 0;
  let payload = 0;
  let delta = 0;
  for (const s of slices) {
    const batch = s.batch;
    const perRecordKeys = batch.hasRecordKeys;
    let key = keys.get(batch.key);
    const tsSize = 1 + varintSize(batch.readAt - firstTimestamp);
    if (batch.readAt > maxTimestamp) maxTimestamp = batch.readAt;
    for (let k = s.from; k < s.to; k++) {
      const i = lineOf(s, k);
      if (perRecordKeys) key = keys.get(batch.keyAt(i));
      const keySize = key === null ? 1 : sizedBytes(key.length);
      const valueLength = batch.valueLength(i);
      const body = tsSize + keySize + varintSize(delta) + sizedBytes(valueLength) + headers.size(batch, i);
      bytes += uvarintSize(body * 2) + body;
      payload += valueLength + (key === null ? 0 : key.length);
      delta++;
    }
  }
  return { count: delta, firstTimestamp, maxTimestamp, bytes, payloadBytes: payload };
}

export function writeRecords(w: Writer, slices: readonly Slice[], layout: RecordsLayout, headers: RecordHeaders, keys: KeyCache): void {
  const buf = w.buf;
  let delta = 0;
  for (const s of slices) {
    const batch = s.batch;
    const perRecordKeys = batch.hasRecordKeys;
    let key = keys.get(batch.key);
    const tsDelta = batch.readAt - layout.firstTimestamp;
    const tsSize = 1 + varintSize(tsDelta);
    const source = batch.buffer;
    for (let k = s.from; k < s.to; k++) {
      const i = lineOf(s, k);
      if (perRecordKeys) key = keys.get(batch.keyAt(i));
      const keySize = key === null ? 1 : sizedBytes(key.length);
      const start = batch.start(i);
      const end = batch.ends[i] as number;
      const length = batch.valueLength(i);
      const body = tsSize + keySize + varintSize(delta) + sizedBytes(length) + headers.size(batch, i);
      w.varint(body);
      buf[w.offset++] = 0; // record attributes: unused
      w.varlong(tsDelta);
      w.varint(delta);
      if (key === null) w.varint(-1);
      else {
        w.varint(key.length);
        w.raw(key);
      }
      w.varint(length);
      if (w.offset + length > buf.length) throw new RangeError('write past the end of the buffer');
      // Copied straight from the read buffer (no view object per line), unless the broker made us cut it.
      if (length === end - start) source.copy(buf, w.offset, start, end);
      else batch.value(i).copy(buf, w.offset);
      w.offset += length;
      headers.write(w, batch, i);
      delta++;
    }
  }
}

/** Writes the batch header at `start` (records already at start + 61 .. end) and its CRC. */
function writeHeader(w: Writer, start: number, end: number, layout: RecordsLayout, codec: number, stamp: Stamp): void {
  const h = new Writer(w.buf, start);
  h.i64(0); // base offset: the broker assigns it
  h.i32(end - start - 12); // batch length: from the leader epoch to the end
  h.i32(-1); // partition leader epoch: the broker sets it
  h.i8(2); // magic
  h.u32(0); // crc, below
  h.i16(codec); // attributes: codec; CreateTime; not transactional, not control
  h.i32(layout.count - 1); // last offset delta
  h.i64(layout.firstTimestamp);
  h.i64(layout.maxTimestamp);
  h.i64(stamp.producerId);
  h.i16(stamp.producerEpoch);
  h.i32(stamp.baseSequence);
  h.i32(layout.count);
  w.buf.writeUInt32BE(crc32c(w.buf, start + CRC_START, end), start + 17);
}

/** A record batch ready to be put into a request: its exact size and how to write it. */
export interface EncodedBatch {
  readonly size: number;
  readonly records: number;
  readonly payloadBytes: number;
  write(w: Writer): void;
}

export interface BatchInput {
  readonly slices: readonly Slice[];
  readonly stamp: Stamp;
}

/** An uncompressed batch, written in place into the request buffer when the request is built. */
export function plainBatch(input: BatchInput, headers: RecordHeaders, keys: KeyCache): EncodedBatch {
  const layout = measureRecords(input.slices, headers, keys);
  return {
    size: BATCH_HEADER_BYTES + layout.bytes,
    records: layout.count,
    payloadBytes: layout.payloadBytes,
    write(w) {
      const start = w.offset;
      w.offset += BATCH_HEADER_BYTES;
      writeRecords(w, input.slices, layout, headers, keys);
      writeHeader(w, start, w.offset, layout, 0, input.stamp);
    },
  };
}

/** A compressed batch: records into a scratch buffer, compressed, then a complete batch buffer copied into the request. */
export async function compressedBatch(
  codec: Exclude<CompressionName, 'none'>,
  input: BatchInput,
  headers: RecordHeaders,
  keys: KeyCache,
): Promise<EncodedBatch> {
  const layout = measureRecords(input.slices, headers, keys);
  const scratch = new Writer(Buffer.allocUnsafe(layout.bytes));
  writeRecords(scratch, input.slices, layout, headers, keys);
  const compressed = await compress(codec, scratch.buf);
  const out = new Writer(Buffer.allocUnsafe(BATCH_HEADER_BYTES + compressed.length), BATCH_HEADER_BYTES);
  out.raw(compressed);
  writeHeader(out, 0, out.offset, layout, CODEC_IDS[codec], input.stamp);
  return {
    size: out.buf.length,
    records: layout.count,
    payloadBytes: layout.payloadBytes,
    write: (w) => w.raw(out.buf),
  };
}

export async function encodeBatch(
  codec: CompressionName,
  input: BatchInput,
  headers: RecordHeaders,
  keys: KeyCache,
): Promise<EncodedBatch> {
  return codec === 'none' ? plainBatch(input, headers, keys) : compressedBatch(codec, input, headers, keys);
}

// Kafka wire primitives: a Writer over a buffer whose size was computed up
// front (it never grows: writing past the end is a bug and throws), a Sizer
// with the same interface that only counts (so one encode function gives
// both the size and the bytes), and a Reader for responses. Big-endian
// fixed-width integers, zigzag varints (record fields), unsigned varints
// (flexible versions' compact lengths and tagged fields), classic and
// compact strings, bytes and UUIDs, as the protocol guide defines them.
//
// 64-bit integers are JavaScript numbers: producer ids, offsets and
// timestamps stay far below 2^53.

/** What an encode function writes to: a Writer (bytes) or a Sizer (count only). */
export interface Encoder {
  i8(v: number): void;
  i16(v: number): void;
  i32(v: number): void;
  u32(v: number): void;
  i64(v: number): void;
  bool(v: boolean): void;
  uvarint(v: number): void;
  /** Zigzag varint of a 32-bit value. */
  varint(v: number): void;
  /** Zigzag varint of a 64-bit value (safe integers). */
  varlong(v: number): void;
  /** int16 length + UTF-8, or -1 for null. */
  string(v: string | null): void;
  /** uvarint(length + 1) + UTF-8, or 0 for null. */
  compactString(v: string | null): void;
  /** int32 length + bytes, or -1 for null. */
  bytes(v: Uint8Array | null): void;
  /** uvarint(length + 1) + bytes, or 0 for null. */
  compactBytes(v: Uint8Array | null): void;
  uuid(v: Uint8Array): void;
  raw(v: Uint8Array): void;
  /** An empty tagged-field section (flexible versions). */
  tags(): void;
  /** `size` bytes that `write` puts in place (a record batch): a Sizer only counts them. */
  deferred(size: number, write: (w: Writer) => void): void;
}

export function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Zigzag of a safe integer, as a non-negative number (no 32-bit overflow). */
export function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

export function varintSize(v: number): number {
  return uvarintSize(zigzag(v));
}

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

export class Sizer implements Encoder {
  size = 0;
  i8(): void {
    this.size += 1;
  }
  i16(): void {
    this.size += 2;
  }
  i32(): void {
    this.size += 4;
  }
  u32(): void {
    this.size += 4;
  }
  i64(): void {
    this.size += 8;
  }
  bool(): void {
    this.size += 1;
  }
  uvarint(v: number): void {
    this.size += uvarintSize(v);
  }
  varint(v: number): void {
    this.size += varintSize(v);
  }
  varlong(v: number): void {
    this.size += varintSize(v);
  }
  string(v: string | null): void {
    this.size += 2 + (v === null ? 0 : utf8Length(v));
  }
  compactString(v: string | null): void {
    if (v === null) this.size += 1;
    else {
      const n = utf8Length(v);
      this.size += uvarintSize(n + 1) + n;
    }
  }
  bytes(v: Uint8Array | null): void {
    this.size += 4 + (v === null ? 0 : v.length);
  }
  compactBytes(v: Uint8Array | null): void {
    this.size += v === null ? 1 : uvarintSize(v.length + 1) + v.length;
  }
  uuid(): void {
    this.size += 16;
  }
  raw(v: Uint8Array): void {
    this.size += v.length;
  }
  tags(): void {
    this.size += 1;
  }
  deferred(size: number): void {
    this.size += size;
  }
}

export class Writer implements Encoder {
  readonly buf: Buffer;
  offset: number;

  constructor(buf: Buffer, offset = 0) {
    this.buf = buf;
    this.offset = offset;
  }

  i8(v: number): void {
    this.offset = this.buf.writeInt8(v, this.offset);
  }
  i16(v: number): void {
    this.offset = this.buf.writeInt16BE(v, this.offset);
  }
  i32(v: number): void {
    this.offset = this.buf.writeInt32BE(v, this.offset);
  }
  u32(v: number): void {
    this.offset = this.buf.writeUInt32BE(v >>> 0, this.offset);
  }
  i64(v: number): void {
    // High word by division (exact for safe integers), low word unsigned.
    const hi = Math.floor(v / 0x100000000);
    const lo = v - hi * 0x100000000;
    this.buf.writeInt32BE(hi | 0, this.offset);
    this.buf.writeUInt32BE(lo >>> 0, this.offset + 4);
    this.offset += 8;
  }
  bool(v: boolean): void {
    this.buf[this.offset++] = v ? 1 : 0;
  }
  uvarint(v: number): void {
    const buf = this.buf;
    let o = this.offset;
    if (o + uvarintSize(v) > buf.length) throw new RangeError('write past the end of the buffer');
    while (v >= 0x80) {
      buf[o++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[o++] = v;
    this.offset = o;
  }
  varint(v: number): void {
    this.uvarint(zigzag(v));
  }
  varlong(v: number): void {
    this.uvarint(zigzag(v));
  }
  string(v: string | null): void {
    if (v === null) return this.i16(-1);
    const n = utf8Length(v);
    this.i16(n);
    this.utf8(v, n);
  }
  compactString(v: string | null): void {
    if (v === null) return this.uvarint(0);
    const n = utf8Length(v);
    this.uvarint(n + 1);
    this.utf8(v, n);
  }
  bytes(v: Uint8Array | null): void {
    if (v === null) return this.i32(-1);
    this.i32(v.length);
    this.raw(v);
  }
  compactBytes(v: Uint8Array | null): void {
    if (v === null) return this.uvarint(0);
    this.uvarint(v.length + 1);
    this.raw(v);
  }
  uuid(v: Uint8Array): void {
    if (v.length !== 16) throw new RangeError('a UUID is 16 bytes');
    this.raw(v);
  }
  raw(v: Uint8Array): void {
    if (this.offset + v.length > this.buf.length) throw new RangeError('write past the end of the buffer');
    this.buf.set(v, this.offset);
    this.offset += v.length;
  }
  tags(): void {
    this.uvarint(0);
  }
  deferred(size: number, write: (w: Writer) => void): void {
    const end = this.offset + size;
    if (end > this.buf.length) throw new RangeError('write past the end of the buffer');
    write(this);
    if (this.offset !== end) throw new Error(`deferred writer wrote ${this.offset - end + size} bytes, sized ${size}`);
  }
  private utf8(v: string, n: number): void {
    if (this.offset + n > this.buf.length) throw new RangeError('write past the end of the buffer');
    this.offset += this.buf.write(v, this.offset, n, 'utf8');
  }
}

/** Runs `encode` against a Sizer, then into a buffer of exactly that size. */
export function encodeExact(encode: (e: Encoder) => void): Buffer {
  const sizer = new Sizer();
  encode(sizer);
  const w = new Writer(Buffer.allocUnsafe(sizer.size));
  encode(w);
  if (w.offset !== sizer.size) throw new Error(`encoder wrote ${w.offset} bytes, sized ${sizer.size}`);
  return w.buf;
}

export class Reader {
  readonly buf: Buffer;
  offset: number;

  constructor(buf: Buffer, offset = 0) {
    this.buf = buf;
    this.offset = offset;
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  i8(): number {
    const v = this.buf.readInt8(this.offset);
    this.offset += 1;
    return v;
  }
  i16(): number {
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  i32(): number {
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  i64(): number {
    const hi = this.buf.readInt32BE(this.offset);
    const lo = this.buf.readUInt32BE(this.offset + 4);
    this.offset += 8;
    return hi * 0x100000000 + lo;
  }
  bool(): boolean {
    return this.i8() !== 0;
  }
  uvarint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.buf[this.offset++];
      if (b === undefined) throw new RangeError('varint past the end of the buffer');
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return v;
      mul *= 128;
    }
    throw new RangeError('varint longer than 10 bytes');
  }
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
  string(): string | null {
    const n = this.i16();
    return n < 0 ? null : this.utf8(n);
  }
  compactString(): string | null {
    const n = this.uvarint() - 1;
    return n < 0 ? null : this.utf8(n);
  }
  bytes(): Buffer | null {
    const n = this.i32();
    return n < 0 ? null : this.take(n);
  }
  compactBytes(): Buffer | null {
    const n = this.uvarint() - 1;
    return n < 0 ? null : this.take(n);
  }
  uuid(): Buffer {
    return Buffer.from(this.take(16));
  }
  take(n: number): Buffer {
    if (this.offset + n > this.buf.length) throw new RangeError('read past the end of the buffer');
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
  /** An array: int32 count (classic) or uvarint count + 1 (compact); -1 / 0 mean null, read as empty. */
  array<T>(flexible: boolean, item: (r: Reader) => T): T[] {
    const n = flexible ? this.uvarint() - 1 : this.i32();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }
  /** Reads a tagged-field section, handing each field to `onTag` (which must consume exactly `size` bytes) or skipping it. */
  tags(onTag?: (tag: number, r: Reader, size: number) => void): void {
    const n = this.uvarint();
    for (let i = 0; i < n; i++) {
      const tag = this.uvarint();
      const size = this.uvarint();
      const end = this.offset + size;
      if (onTag) onTag(tag, this, size);
      this.offset = end;
    }
  }
  private utf8(n: number): string {
    return this.take(n).toString('utf8');
  }
}

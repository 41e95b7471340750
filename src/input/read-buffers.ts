// Reusable read buffers. At full speed a reader fills a buffer per read, the
// batches made of it hold it until Kafka acknowledges them, and then it is
// garbage: Buffer memory lives outside V8's heap, and V8 collects it only
// when the heap itself needs a collection or tens of MiB of it piled up, so
// those dead buffers (and the arrays of line offsets that went with them)
// made up much of the agent's RSS at full speed. A buffer handed back once
// every batch viewing it is acknowledged is read into again instead, with
// its line index (the offsets of its lines) reused too.
//
// Sizes come in five classes, the read chunk and its halves down to a
// sixteenth, so that a read held back by the in-flight budget does not pin a
// full chunk; smaller reads (a quiet file's few new lines) and larger ones
// (a long line carried into the next read) get a buffer of their own. Each
// class keeps a few free buffers at most.

import type { LineIndex } from './line-splitter.ts';

const CLASSES = 5;

/** A read buffer and the batches (and unfinished line) that still view it. */
export class ReadBuffer {
  readonly buffer: Buffer;
  /** Where the splitter records its lines' offsets; pooled with the buffer. Undefined: plain arrays. */
  readonly index: LineIndex | undefined;
  private refs = 1;
  private readonly pool: ReadBufferPool | undefined;
  private readonly sizeClass: number;

  constructor(buffer: Buffer, index: LineIndex | undefined, pool: ReadBufferPool | undefined, sizeClass: number) {
    this.buffer = buffer;
    this.index = index;
    this.pool = pool;
    this.sizeClass = sizeClass;
  }

  /** Viewers besides the reader's own read (tests). */
  get viewers(): number {
    return this.refs;
  }

  /** One more viewer (a batch, or the reader's unfinished line). */
  retain(): void {
    this.refs++;
  }

  /** One viewer is done; the last returns the buffer to its pool. */
  release(): void {
    if (this.refs <= 0) throw new Error('ReadBuffer released more often than retained');
    if (--this.refs === 0) this.pool?.give(this, this.sizeClass);
  }

  /** Taken from the pool again: the reader holds it. */
  reuse(): this {
    this.refs = 1;
    return this;
  }
}

export class ReadBufferPool {
  readonly chunkBytes: number;
  private readonly maxFreePerClass: number;
  private readonly free: ReadBuffer[][] = Array.from({ length: CLASSES }, () => []);

  constructor(chunkBytes: number, maxFreePerClass = 4) {
    this.chunkBytes = chunkBytes;
    this.maxFreePerClass = maxFreePerClass;
  }

  /** Buffers waiting to be reused, all classes (tests). */
  get pooled(): number {
    return this.free.reduce((n, list) => n + list.length, 0);
  }

  /** A buffer of at least `bytes`, held once by the caller (release() it). */
  take(bytes: number): ReadBuffer {
    const sizeClass = this.classOf(bytes);
    if (sizeClass < 0) return new ReadBuffer(Buffer.allocUnsafe(bytes), undefined, undefined, -1);
    const reused = this.free[sizeClass]?.pop();
    if (reused) return reused.reuse();
    const size = this.chunkBytes >> sizeClass;
    // A line index sized for lines of ~64 bytes; it grows (and stays grown) for shorter ones.
    const entries = Math.max(16, size >> 6);
    const index = { ends: new Uint32Array(entries), nexts: new Uint32Array(entries) };
    return new ReadBuffer(Buffer.allocUnsafeSlow(size), index, this, sizeClass);
  }

  give(buffer: ReadBuffer, sizeClass: number): void {
    const list = this.free[sizeClass];
    if (list && list.length < this.maxFreePerClass) list.push(buffer);
  }

  /** The smallest class that holds `bytes`; -1 when none (too small to pool, or larger than a chunk). */
  private classOf(bytes: number): number {
    if (bytes > this.chunkBytes || bytes < (this.chunkBytes >> (CLASSES - 1)) >> 1) return -1;
    let k = 0;
    while (k + 1 < CLASSES && this.chunkBytes >> (k + 1) >= bytes) k++;
    return k;
  }
}

// Request buffers, reused. A produce request of up to batchMaxBytes is
// encoded into one buffer; once the socket has handed it to the kernel the
// buffer goes back here for the next request. With 5 requests in flight per
// broker that is a handful of buffers for the life of the process, instead
// of a fresh ~1 MiB of external memory per request whose garbage V8
// collects late and glibc keeps (kafkajs's RSS problem). Larger requests (a
// single huge line) get a buffer of their own, not kept.

export class BufferPool {
  readonly bufferBytes: number;
  private readonly maxFree: number;
  private readonly free: ArrayBuffer[] = [];

  constructor(bufferBytes: number, maxFree: number) {
    this.bufferBytes = bufferBytes;
    this.maxFree = maxFree;
  }

  /** A buffer of exactly `size` bytes (contents undefined): a view into a pooled one when it fits. */
  take(size: number): Buffer {
    if (size > this.bufferBytes) return Buffer.allocUnsafeSlow(size);
    const ab = this.free.pop() ?? new ArrayBuffer(this.bufferBytes);
    return Buffer.from(ab, 0, size);
  }

  /** Gives a buffer from take() back; the caller must not touch it afterwards. */
  give(buf: Buffer): void {
    const ab = buf.buffer;
    if (ab instanceof ArrayBuffer && ab.byteLength === this.bufferBytes && buf.byteOffset === 0 && this.free.length < this.maxFree) {
      this.free.push(ab);
    }
  }
}

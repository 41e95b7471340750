// LineBatches as a file reader makes them, for sink tests: numbered lines
// read in chunks of a few lines each, one owner per stream recording which
// batches were acknowledged, in what order.

import { LineBatch, type BatchOwner, type StaticHeaders } from '../../src/sink/line-batch.ts';

export class RecordingOwner implements BatchOwner {
  readonly acked: LineBatch[] = [];
  onBatchAcked(batch: LineBatch): void {
    if (batch.ackedLines !== batch.count) throw new Error(`batch ${batch.seq} acknowledged with ${batch.ackedLines}/${batch.count} lines`);
    if (this.acked.includes(batch)) throw new Error(`batch ${batch.seq} acknowledged twice`);
    this.acked.push(batch);
  }
  get ackedLines(): number {
    return this.acked.reduce((n, b) => n + b.count, 0);
  }
}

export interface StreamOptions {
  topic: string;
  key?: string | null;
  owner: BatchOwner;
  /** Lines per batch (one read chunk). */
  linesPerBatch: number;
  truncated?: boolean;
  readAt?: number;
  /** The route's static headers. */
  headers?: StaticHeaders;
  /** File offset of the first line (default 0). */
  startOffset?: number;
  /** The logagent.source value (default: the identity). */
  source?: string;
}

/** Splits `lines` into batches of `linesPerBatch`, each over its own buffer with '\n' terminators. */
export function lineBatches(lines: readonly (string | Buffer)[], o: StreamOptions): LineBatch[] {
  const out: LineBatch[] = [];
  let offset = o.startOffset ?? 0;
  for (let start = 0, seq = 0; start < lines.length; start += o.linesPerBatch, seq++) {
    const chunk = lines.slice(start, start + o.linesPerBatch).map((l) => (typeof l === 'string' ? Buffer.from(l) : l));
    const buffer = Buffer.concat(chunk.flatMap((b) => [b, Buffer.from('\n')]));
    const ends: number[] = [];
    const nexts: number[] = [];
    let pos = 0;
    for (const b of chunk) {
      ends.push(pos + b.length);
      pos += b.length + 1;
      nexts.push(pos);
    }
    out.push(
      new LineBatch({
        owner: o.owner,
        seq,
        identity: '1:1',
        source: o.source,
        topic: o.topic,
        key: o.key === undefined ? 'app.log' : o.key,
        buffer,
        bufferOffset: offset,
        first: 0,
        ends,
        nexts,
        truncated: o.truncated ?? false,
        headers: o.headers,
        chargedBytes: buffer.length,
        readAt: o.readAt ?? Date.now(),
      }),
    );
    offset += buffer.length;
  }
  return out;
}

// Spreads the lines of a LineBatch over a topic's partitions with the
// partitioners of partitioner.ts: `hash` (Java's murmur2 of the key, so a
// file lands where a Java producer would put it; a null key goes to 0, as
// with kafkajs), `manual`, `round-robin` and `random`, per line. A batch
// whose lines all go to one partition (hash, manual: every line of a file
// has the same key) stays one slice with no per-line memory; otherwise its
// line indices are grouped by partition in one typed array (2 bytes a line,
// 4 past 65,536 lines) shared by the batch's slices.

import type { PartitionerName } from '../../config/config.ts';
import type { LineBatch } from '../line-batch.ts';
import { murmur2 } from '../murmur2.ts';
import type { Slice } from './record-batch.ts';

export interface Placed {
  readonly partition: number;
  readonly slice: Slice;
}

const HASH_CACHE_MAX = 10_000;

export class LinePartitioner {
  private readonly name: PartitionerName;
  private readonly manualPartition: number;
  private readonly hashes = new Map<string, number>();
  private readonly roundRobin = new Map<string, number>();
  private readonly random: () => number;

  constructor(name: PartitionerName, manualPartition: number, random: () => number = Math.random) {
    this.name = name;
    this.manualPartition = manualPartition;
    this.random = random;
  }

  place(batch: LineBatch, partitions: number): Placed[] {
    const whole = (partition: number): Placed[] => [{ partition, slice: { batch, from: 0, to: batch.count, lines: null } }];
    switch (this.name) {
      case 'manual':
        return whole(this.manualPartition);
      case 'hash': {
        // Lines without a key (key: none, or a line without the key field)
        // are spread, a batch at a time (as the Java producer's sticky
        // partitioner does), instead of all landing on partition 0.
        if (!batch.hasRecordKeys)
          return whole(batch.key === null ? this.sticky(batch.topic, partitions) : this.hash(batch.key) % partitions);
        // A key per record (key: field:<name>): each record where its key hashes.
        let unkeyed: number | undefined;
        return group(batch, partitions, (i) => {
          const key = batch.keyAt(i);
          if (key === null) return (unkeyed ??= this.sticky(batch.topic, partitions));
          return this.hash(key) % partitions;
        });
      }
      case 'round-robin': {
        const start = this.roundRobin.get(batch.topic) ?? 0;
        this.roundRobin.set(batch.topic, (start + batch.count) % partitions);
        return group(batch, partitions, (i) => (start + i) % partitions);
      }
      case 'random':
        return group(batch, partitions, () => Math.floor(this.random() * partitions));
    }
  }

  /** The next partition of a topic for lines without a key: one per batch, in turn. */
  private sticky(topic: string, partitions: number): number {
    const next = this.roundRobin.get(topic) ?? 0;
    this.roundRobin.set(topic, (next + 1) % partitions);
    return next % partitions;
  }

  private hash(key: string): number {
    let h = this.hashes.get(key);
    if (h === undefined) {
      if (this.hashes.size >= HASH_CACHE_MAX) this.hashes.clear();
      h = murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff;
      this.hashes.set(key, h);
    }
    return h;
  }
}

/** Groups line indices by partition (a counting sort): one slice per partition that got lines. */
function group(batch: LineBatch, partitions: number, pick: (i: number) => number): Placed[] {
  const n = batch.count;
  if (partitions === 1 || n === 1) return [{ partition: pick(0), slice: { batch, from: 0, to: n, lines: null } }];
  const of = partitions <= 0x10000 ? new Uint16Array(n) : new Uint32Array(n);
  const counts = new Uint32Array(partitions);
  for (let i = 0; i < n; i++) {
    const p = pick(i);
    of[i] = p;
    counts[p]!++;
  }
  const lines = n <= 0x10000 ? new Uint16Array(n) : new Uint32Array(n);
  const starts = new Uint32Array(partitions);
  for (let p = 1; p < partitions; p++) starts[p] = starts[p - 1]! + counts[p - 1]!;
  const fill = starts.slice();
  for (let i = 0; i < n; i++) lines[fill[of[i]!]!++] = i;
  const out: Placed[] = [];
  for (let p = 0; p < partitions; p++) {
    if (counts[p]! > 0) out.push({ partition: p, slice: { batch, from: starts[p]!, to: starts[p]! + counts[p]!, lines } });
  }
  return out;
}

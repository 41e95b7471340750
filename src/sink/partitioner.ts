// Chooses a partition for each message. `hash` is the Java producer's
// algorithm (murmur2 of the key), so a file path lands on the partition a
// Java producer would choose; the hash of each key is cached, since every
// line of a file carries the same key.

import type { ICustomPartitioner } from 'kafkajs';
import type { PartitionerName } from '../config/config.ts';
import { murmur2 } from './murmur2.ts';

/** Distinct keys are file paths: a few per agent. The cap only guards against a key template gone wild. */
const HASH_CACHE_MAX = 10_000;

export function createPartitioner(name: PartitionerName, manualPartition: number): ICustomPartitioner {
  switch (name) {
    case 'hash':
      return () => {
        const hashes = new Map<string, number>();
        let unkeyed = 0;
        return ({ partitionMetadata, message }) => {
          const key = message.key;
          // Lines without a key are spread over the partitions, not all sent to partition 0.
          if (key === null || key === undefined) return unkeyed++ % partitionMetadata.length;
          const id = typeof key === 'string' ? key : key.toString('latin1');
          let hash = hashes.get(id);
          if (hash === undefined) {
            if (hashes.size >= HASH_CACHE_MAX) hashes.clear();
            hash = murmur2(typeof key === 'string' ? Buffer.from(key) : key) & 0x7fffffff;
            hashes.set(id, hash);
          }
          return hash % partitionMetadata.length;
        };
      };
    case 'manual':
      return () => () => manualPartition;
    case 'random':
      return () =>
        ({ partitionMetadata }) =>
          partitionMetadata[Math.floor(Math.random() * partitionMetadata.length)]?.partitionId ?? 0;
    case 'round-robin':
      return () => {
        const next = new Map<string, number>();
        return ({ topic, partitionMetadata }) => {
          const i = next.get(topic) ?? 0;
          next.set(topic, (i + 1) % Number.MAX_SAFE_INTEGER);
          return partitionMetadata[i % partitionMetadata.length]?.partitionId ?? 0;
        };
      };
  }
}

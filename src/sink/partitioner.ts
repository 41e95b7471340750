// Chooses a partition for each message. `hash` is kafkajs's murmur2
// partitioner, the Java client's algorithm, so a file path lands on the same
// partition as it would from a Java producer.

import kafkajs from './kafkajs.ts';
import type { ICustomPartitioner } from 'kafkajs';
import type { PartitionerName } from '../config/config.ts';

export function createPartitioner(name: PartitionerName, manualPartition: number): ICustomPartitioner {
  switch (name) {
    case 'hash':
      return kafkajs.Partitioners.DefaultPartitioner;
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
          const sorted = partitionMetadata.length;
          return partitionMetadata[i % sorted]?.partitionId ?? 0;
        };
      };
  }
}

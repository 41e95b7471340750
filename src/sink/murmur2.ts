// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), the hash the
// Java producer's default partitioner applies to keys. 32-bit arithmetic via
// Math.imul: kafkajs's own version uses a Long emulation that cost ~40% of the
// agent's CPU in the benchmark (docs/benchmarks.md).

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const length4 = length & ~3;
  for (let i = 0; i < length4; i += 4) {
    let k = (data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & 3;
  if (tail === 3) h ^= (data[length4 + 2] as number) << 16;
  if (tail >= 2) h ^= (data[length4 + 1] as number) << 8;
  if (tail >= 1) {
    h ^= data[length4] as number;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka's Java producer picks for a key: toPositive(murmur2(key)) % partitions. */
export function javaPartition(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

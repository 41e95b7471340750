// The native producer's settings, built from the agent's KafkaConfig in one
// place (nativeOptions), so the producer never reads configuration itself
// and tests can set what KafkaConfig does not have (clock, randomness,
// metadata age, in-flight limits).

import type tls from 'node:tls';
import type { CompressionName, KafkaConfig, PartitionerName } from '../../config/config.ts';
import type { SaslOptions } from './sasl.ts';

export interface NativeProducerOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** -1 (all), 0 or 1. */
  readonly acks: -1 | 0 | 1;
  /** Idempotent producer: on with acks=all, as in Kafka's own producer since 3.0. */
  readonly idempotent: boolean;
  readonly partitioner: PartitionerName;
  readonly partition: number;
  readonly compression: CompressionName;
  readonly batchMaxBytes: number;
  readonly lingerMs: number;
  readonly requestTimeoutMs: number;
  readonly connectionTimeoutMs: number;
  /** Produce requests in flight per broker (5 keeps the broker's de-duplication window with idempotence). */
  readonly maxInflightPerBroker: number;
  /** Metadata older than this is refreshed when a partition sends (no timer refreshes it). */
  readonly metadataMaxAgeMs: number;
  readonly topicCreate: boolean;
  readonly topicPartitions: number;
  readonly topicReplicationFactor: number;
  /** Delay before the n-th consecutive retry (n >= 1). */
  readonly backoffMs: (failures: number) => number;
  readonly now: () => number;
  readonly random: () => number;
  /** TLS to every broker (tls.connect options; the server name is the broker's host unless set). From credentials.ts. */
  readonly tls?: tls.ConnectionOptions;
  /** SASL on every connection, after ApiVersions. From credentials.ts. */
  readonly sasl?: SaslOptions;
}

export const MAX_INFLIGHT_PER_BROKER = 5;
export const METADATA_MAX_AGE_MS = 5 * 60_000;

/** Capped exponential backoff with ±20 % jitter, as the kafkajs sink does. */
export function backoff(maxMs: number, random: () => number = Math.random): (failures: number) => number {
  return (failures) => Math.min(maxMs, 100 * 2 ** Math.min(failures, 16)) * (0.8 + random() * 0.4);
}

/**
 * Native producer settings from the agent's configuration. Idempotence is on
 * when KAFKA_IDEMPOTENT (default true) and acks=all: the broker requires
 * acks=all for it.
 */
export function nativeOptions(config: KafkaConfig, overrides: Partial<NativeProducerOptions> = {}): NativeProducerOptions {
  const acks = config.acks === 'all' ? -1 : config.acks === '0' ? 0 : 1;
  return {
    brokers: config.brokers,
    clientId: config.clientId,
    acks,
    idempotent: config.idempotent && acks === -1,
    partitioner: config.partitioner,
    partition: config.partition,
    compression: config.compression,
    batchMaxBytes: config.batchMaxBytes,
    lingerMs: config.lingerMs,
    requestTimeoutMs: config.requestTimeoutMs,
    connectionTimeoutMs: config.connectionTimeoutMs,
    maxInflightPerBroker: MAX_INFLIGHT_PER_BROKER,
    metadataMaxAgeMs: METADATA_MAX_AGE_MS,
    topicCreate: config.topicCreate,
    topicPartitions: config.topicPartitions,
    topicReplicationFactor: config.topicReplicationFactor,
    backoffMs: backoff(config.retryMaxBackoffMs),
    now: Date.now,
    random: Math.random,
    ...overrides,
  };
}

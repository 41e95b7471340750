// The validated, immutable configuration snapshot the agent runs on. Built
// only by loadConfig(); everything downstream trusts these types.

import type { ACKS, CLIENTS, COMPRESSIONS, FORMATS, LOG_LEVELS, PARSES, PARTITIONERS, SASL_MECHANISMS, START_AT } from './schema.ts';

export type StartAt = (typeof START_AT)[number];
export type Acks = (typeof ACKS)[number];
export type PartitionerName = (typeof PARTITIONERS)[number];
export type CompressionName = (typeof COMPRESSIONS)[number];
export type KafkaClientName = (typeof CLIENTS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type FormatName = (typeof FORMATS)[number];
export type ParseName = (typeof PARSES)[number];
export type SaslMechanismName = (typeof SASL_MECHANISMS)[number];

export interface MultilineSettings {
  /** Empty: off. */
  readonly start: string;
  readonly maxLines: number;
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

/** How an input shapes its records (value, key, headers, events). */
export interface RecordSettings {
  readonly format: FormatName;
  readonly parse: ParseName;
  readonly parsedField: string;
  readonly key: string;
  readonly container: string;
  readonly fields: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly multiline: MultilineSettings;
}

/** TLS to the brokers. Files are paths; their content is read by the sink (src/sink/credentials.ts) and watched. */
export interface KafkaTlsConfig {
  readonly enabled: boolean;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** Secret (empty: none, or keyPassphraseFile). */
  readonly keyPassphrase: string;
  readonly keyPassphraseFile: string;
  readonly verifyServerName: boolean;
  readonly serverName: string;
}

export interface KafkaSaslConfig {
  readonly mechanism: SaslMechanismName;
  readonly username: string;
  /** Secret (empty: none, or passwordFile). */
  readonly password: string;
  readonly passwordFile: string;
  readonly tokenFile: string;
  readonly tokenRefreshMs: number;
}

export interface KafkaConfig {
  readonly client: KafkaClientName;
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly acks: Acks;
  readonly partitioner: PartitionerName;
  readonly partition: number;
  readonly compression: CompressionName;
  readonly idempotent: boolean;
  readonly batchMaxBytes: number;
  readonly lingerMs: number;
  readonly requestTimeoutMs: number;
  readonly connectionTimeoutMs: number;
  readonly retryMaxBackoffMs: number;
  readonly topicCreate: boolean;
  readonly topicPartitions: number;
  readonly topicReplicationFactor: number;
  /** Always set by loadConfig; absent (no TLS) only in sections built by hand (tests, benchmarks). */
  readonly tls?: KafkaTlsConfig;
  /** Always set by loadConfig; absent (no SASL) only in sections built by hand. */
  readonly sasl?: KafkaSaslConfig;
}

export interface ReaderConfig {
  readonly maxLineBytes: number;
  readonly readChunkBytes: number;
  readonly pollIntervalMs: number;
  readonly closeInactiveMs: number;
  readonly partialLineTimeoutMs: number;
}

export interface RotatedConfig {
  readonly quietMs: number;
  readonly maxHoldMs: number;
  readonly maxHoldBytes: number;
}

/** One set of files tailed to one topic: discovery plus a route. The env-only config has exactly one, named `default`. */
export interface InputConfig extends RecordSettings {
  /** Unique and stable: identifies the input across reloads. */
  readonly name: string;
  readonly topic: string;
  readonly paths: readonly string[];
  readonly exclude: readonly string[];
  readonly startAt: StartAt;
}

export interface Config {
  readonly kafka: KafkaConfig;
  readonly inputs: readonly InputConfig[];
  readonly reader: ReaderConfig;
  readonly discovery: { readonly scanIntervalMs: number };
  readonly rotated: RotatedConfig;
  readonly inflightMaxBytes: number;
  readonly checkpoint: { readonly dir: string; readonly intervalMs: number; readonly pruneAfterMs: number };
  readonly shutdown: { readonly quietMs: number; readonly deadlineMs: number };
  readonly http: { readonly port: number; readonly host: string };
  readonly logLevel: LogLevel;
  readonly kubernetes: { readonly configMap: string; readonly namespace: string; readonly configKey: string };
  readonly config: { readonly checkIntervalMs: number };
}

// The one place that names every configuration key: its environment
// variable, default, format and meaning. README's configuration table is
// generated from this schema (`logagent config-doc`), so the two cannot drift.
//
// Precedence (convict): defaults < config file < environment.

import convict from 'convict';
import { BATCH_COST_BYTES, LINE_COST_BYTES } from '../budget.ts';

export const START_AT = ['beginning', 'end'] as const;
export const ACKS = ['all', '1', '0'] as const;
export const PARTITIONERS = ['hash', 'round-robin', 'random', 'manual'] as const;
export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const MiB = 1024 * 1024;

function isBrokerList(value: unknown): void {
  if (!Array.isArray(value) || value.length === 0) throw new Error('must list at least one broker as host:port');
  for (const broker of value) {
    if (typeof broker !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(broker.trim())) {
      throw new Error(`"${String(broker)}" is not host:port`);
    }
  }
}

function isNonEmptyStringList(value: unknown): void {
  // Empty is the default; loadConfig reports it as missing.
  if (!Array.isArray(value)) throw new Error('must be a list of paths or globs');
  for (const entry of value) {
    if (typeof entry !== 'string' || entry.trim() === '') throw new Error('contains an empty entry');
  }
}

function isStringList(value: unknown): void {
  if (!Array.isArray(value)) throw new Error('must be a list');
  for (const entry of value) if (typeof entry !== 'string') throw new Error('must be a list of strings');
}

convict.addFormat({ name: 'broker-list', validate: isBrokerList, coerce: splitList });
convict.addFormat({ name: 'path-list', validate: isNonEmptyStringList, coerce: splitList });
convict.addFormat({ name: 'glob-list', validate: isStringList, coerce: splitList });

function splitList(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function positiveInt(name: string) {
  return (value: unknown): void => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new Error(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
    }
  };
}

export const schema = {
  kafka: {
    brokers: {
      doc: 'Kafka bootstrap brokers, comma-separated host:port.',
      format: 'broker-list',
      default: ['127.0.0.1:9092'],
      env: 'KAFKA_BROKERS',
    },
    clientId: {
      doc: 'Kafka client id the producer announces.',
      format: String,
      default: 'logagent',
      env: 'KAFKA_CLIENT_ID',
    },
    acks: {
      doc: 'Acknowledgement mode: all (every in-sync replica), 1 (leader only), 0 (none; lines may be lost).',
      format: ACKS as unknown as string[],
      default: 'all',
      env: 'KAFKA_ACKS',
    },
    partitioner: {
      doc: 'hash (murmur2 of the key, Java-compatible: one file stays on one partition), round-robin, random, manual (KAFKA_PARTITION).',
      format: PARTITIONERS as unknown as string[],
      default: 'hash',
      env: 'KAFKA_PARTITIONER',
    },
    partition: {
      doc: 'Partition every message goes to when KAFKA_PARTITIONER=manual.',
      format: 'nat',
      default: 0,
      env: 'KAFKA_PARTITION',
    },
    compression: {
      doc: 'Batch compression codec.',
      format: COMPRESSIONS as unknown as string[],
      default: 'none',
      env: 'KAFKA_COMPRESSION',
    },
    idempotent: {
      doc: 'Idempotent producer (only with acks=all): broker-side de-duplication of retried batches.',
      format: Boolean,
      default: false,
      env: 'KAFKA_IDEMPOTENT',
    },
    batchMaxBytes: {
      doc: 'Largest batch of line bytes sent in one produce request.',
      format: positiveInt('batchMaxBytes'),
      default: 1 * MiB,
      env: 'KAFKA_BATCH_MAX_BYTES',
    },
    lingerMs: {
      doc: 'How long a batch that is not full waits for more lines before it is sent.',
      format: 'nat',
      default: 5,
      env: 'KAFKA_LINGER_MS',
    },
    requestTimeoutMs: {
      doc: 'Timeout of one produce request.',
      format: positiveInt('requestTimeoutMs'),
      default: 30_000,
      env: 'KAFKA_REQUEST_TIMEOUT_MS',
    },
    connectionTimeoutMs: {
      doc: 'Timeout of one broker connection attempt.',
      format: positiveInt('connectionTimeoutMs'),
      default: 5_000,
      env: 'KAFKA_CONNECTION_TIMEOUT_MS',
    },
    retryMaxBackoffMs: {
      doc: 'Upper bound of the backoff between attempts to deliver a batch. Delivery is retried forever.',
      format: positiveInt('retryMaxBackoffMs'),
      default: 10_000,
      env: 'KAFKA_RETRY_MAX_BACKOFF_MS',
    },
    topicCreate: {
      doc: 'Create the topic at start when it does not exist (needs the CreateTopics permission).',
      format: Boolean,
      default: true,
      env: 'KAFKA_TOPIC_CREATE',
    },
    topicPartitions: {
      doc: 'Partition count of a topic LogAgent creates.',
      format: positiveInt('topicPartitions'),
      default: 1,
      env: 'KAFKA_TOPIC_PARTITIONS',
    },
    topicReplicationFactor: {
      doc: 'Replication factor of a topic LogAgent creates; 0 means min(3, number of brokers).',
      format: 'nat',
      default: 0,
      env: 'KAFKA_TOPIC_REPLICATION_FACTOR',
    },
  },
  topic: {
    doc: 'Required. Kafka topic every line is produced to.',
    format: (value: unknown) => {
      // Empty is the default; loadConfig reports it as missing.
      if (typeof value !== 'string' || (value !== '' && !/^[A-Za-z0-9._-]{1,249}$/.test(value))) {
        throw new Error('must be 1-249 characters of A-Z a-z 0-9 . _ -');
      }
    },
    default: '',
    env: 'LOGAGENT_TOPIC',
  },
  paths: {
    doc: 'Required. Files to tail: comma-separated paths or globs (*, **, ?, [..], {a,b}). Symlinks are followed.',
    format: 'path-list',
    default: [] as string[],
    env: 'LOGAGENT_PATHS',
  },
  exclude: {
    doc: 'Globs of files never to tail, even when LOGAGENT_PATHS matches them.',
    format: 'glob-list',
    default: [] as string[],
    env: 'LOGAGENT_EXCLUDE',
  },
  startAt: {
    doc: 'Where to start in a file that has no checkpoint and exists when the agent starts. Files that appear later are always read from their beginning.',
    format: START_AT as unknown as string[],
    default: 'end',
    env: 'LOGAGENT_START_AT',
  },
  reader: {
    maxLineBytes: {
      doc: "Longest line shipped; longer lines are truncated to this size, marked with the header logagent.truncated and counted. The default leaves room for key and record overhead under the broker's default message.max.bytes (1048588).",
      format: positiveInt('maxLineBytes'),
      default: 1_000_000,
      env: 'LOGAGENT_MAX_LINE_BYTES',
    },
    readChunkBytes: {
      doc: 'Bytes read from a file in one read.',
      format: positiveInt('readChunkBytes'),
      default: 256 * 1024,
      env: 'LOGAGENT_READ_CHUNK_BYTES',
    },
    pollIntervalMs: {
      doc: 'How often a file that is being written (grew in the last 2 s) is checked for more; quiet files wait for a filesystem event or the scan.',
      format: positiveInt('pollIntervalMs'),
      default: 250,
      env: 'LOGAGENT_POLL_INTERVAL_MS',
    },
    closeInactiveMs: {
      doc: 'A file that stayed quiet this long with every line acknowledged is closed (no descriptor, no timer) and reopened by identity when it grows, also after a rename.',
      format: positiveInt('closeInactiveMs'),
      default: 60_000,
      env: 'LOGAGENT_CLOSE_INACTIVE_MS',
    },
    partialLineTimeoutMs: {
      doc: 'A last line without a newline is shipped once its file has been quiet this long.',
      format: positiveInt('partialLineTimeoutMs'),
      default: 5_000,
      env: 'LOGAGENT_PARTIAL_LINE_TIMEOUT_MS',
    },
  },
  discovery: {
    scanIntervalMs: {
      doc: 'Period of the full rescan of the globs, the safety net for lost filesystem events (which make discovery immediate where they work).',
      format: positiveInt('scanIntervalMs'),
      default: 10_000,
      env: 'LOGAGENT_SCAN_INTERVAL_MS',
    },
  },
  rotated: {
    quietMs: {
      doc: 'A rotated or deleted file is closed once read to its end, acknowledged, and quiet this long.',
      format: positiveInt('quietMs'),
      default: 2_000,
      env: 'LOGAGENT_ROTATED_QUIET_MS',
    },
    maxHoldMs: {
      doc: 'Longest time a rotated or deleted file is held open waiting to be read and acknowledged; then it is abandoned and counted.',
      format: positiveInt('maxHoldMs'),
      default: 3_600_000,
      env: 'LOGAGENT_ROTATED_MAX_HOLD_MS',
    },
    maxHoldBytes: {
      doc: 'Cap on the total size of deleted files held open; past it the oldest is abandoned and counted.',
      format: positiveInt('maxHoldBytes'),
      default: 1024 * MiB,
      env: 'LOGAGENT_ROTATED_MAX_HOLD_BYTES',
    },
  },
  inflightMaxBytes: {
    doc: `Memory budget of lines read but not yet acknowledged by Kafka (their bytes plus ${LINE_COST_BYTES} bytes per line and ${BATCH_COST_BYTES} per read batch) and unfinished last lines; readers wait when it is spent. Also bounds the lines a crash can repeat.`,
    format: positiveInt('inflightMaxBytes'),
    default: 4 * MiB,
    env: 'LOGAGENT_INFLIGHT_MAX_BYTES',
  },
  checkpoint: {
    dir: {
      doc: 'Directory of the checkpoint file (offsets of acknowledged lines). Must survive restarts.',
      format: String,
      default: '.logagent',
      env: 'LOGAGENT_CHECKPOINT_DIR',
    },
    intervalMs: {
      doc: 'How often acknowledged offsets are persisted (also on shutdown).',
      format: positiveInt('intervalMs'),
      default: 1_000,
      env: 'LOGAGENT_CHECKPOINT_INTERVAL_MS',
    },
    pruneAfterMs: {
      doc: 'Checkpoint entries of files not seen for this long are removed.',
      format: positiveInt('pruneAfterMs'),
      default: 7 * 24 * 3_600_000,
      env: 'LOGAGENT_CHECKPOINT_PRUNE_AFTER_MS',
    },
  },
  shutdown: {
    quietMs: {
      doc: 'On SIGTERM, keep reading until no file has grown for this long, then stop reading and drain.',
      format: 'nat',
      default: 1_000,
      env: 'LOGAGENT_SHUTDOWN_QUIET_MS',
    },
    deadlineMs: {
      doc: 'Whole shutdown (quiet wait, drain, checkpoint) must finish within this; keep it below the pod grace period.',
      format: positiveInt('deadlineMs'),
      default: 25_000,
      env: 'LOGAGENT_SHUTDOWN_DEADLINE_MS',
    },
  },
  http: {
    port: {
      doc: 'Port of the HTTP server (/metrics, /healthz, /readyz); 0 disables it.',
      format: 'port',
      default: 9464,
      env: 'LOGAGENT_HTTP_PORT',
    },
    host: {
      doc: 'Address the HTTP server listens on.',
      format: String,
      default: '0.0.0.0',
      env: 'LOGAGENT_HTTP_HOST',
    },
  },
  logLevel: {
    doc: "Level of the agent's own logs (JSON lines on stderr).",
    format: LOG_LEVELS as unknown as string[],
    default: 'info',
    env: 'LOGAGENT_LOG_LEVEL',
  },
};

export type ConfigSchema = typeof schema;

/**
 * A convict instance that reads nothing behind the caller's back: the
 * environment and command line are applied by loadConfig() explicitly, so
 * tests can pass their own.
 */
export function createConvict(): convict.Config<any> {
  return convict(schema as convict.Schema<any>, { env: {}, args: [] });
}

/** One schema leaf: its dotted key, env variable, default and doc. */
export interface SchemaKey {
  readonly key: string;
  readonly env: string;
  readonly default: unknown;
  readonly doc: string;
}

/** Every leaf of the schema, in declaration order. */
export function schemaKeys(): SchemaKey[] {
  const out: SchemaKey[] = [];
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [name, value] of Object.entries(node)) {
      if (typeof value !== 'object' || value === null) continue;
      const key = prefix ? `${prefix}.${name}` : name;
      if ('doc' in value && 'default' in value) {
        const v = value as { doc: string; default: unknown; env?: string };
        out.push({ key, env: v.env ?? '', default: v.default, doc: v.doc });
      } else {
        walk(value as Record<string, unknown>, key);
      }
    }
  };
  walk(schema, '');
  return out;
}

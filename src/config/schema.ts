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
export const CLIENTS = ['native', 'kafkajs'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const SASL_MECHANISMS = ['none', 'plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer'] as const;

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

function topicName() {
  return (value: unknown): void => {
    // Empty is the default; where a topic is required, that is reported as missing.
    if (typeof value !== 'string' || (value !== '' && !/^[A-Za-z0-9._-]{1,249}$/.test(value))) {
      throw new Error('must be a Kafka topic name: 1-249 characters of A-Z a-z 0-9 . _ -');
    }
  };
}

export const FORMATS = ['raw', 'json'] as const;
export const PARSES = ['none', 'json'] as const;

function isKeyPolicy(value: unknown): void {
  if (typeof value !== 'string' || !/^(path|none|pod|field:[A-Za-z0-9_.@-]+)$/.test(value)) {
    throw new Error('must be path, none, pod, or field:<name of a top-level field of a JSON line>');
  }
}

function isStringMap(value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('must be a mapping of names to strings');
  for (const [k, v] of Object.entries(value)) {
    if (k === '' || typeof v !== 'string') throw new Error(`entry ${JSON.stringify(k)} must be a non-empty name with a string value`);
  }
}

/** "a=1, b=2" (an env value) as { a: '1', b: '2' }. */
function splitMap(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const out: Record<string, string> = {};
  for (const part of value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    out[eq < 0 ? part : part.slice(0, eq).trim()] = eq < 0 ? '' : part.slice(eq + 1).trim();
  }
  return out;
}

function isRegExpSource(value: unknown): void {
  if (typeof value !== 'string') throw new Error('must be a regular expression (JavaScript syntax), or empty for no multiline');
  try {
    new RegExp(value, 'u');
  } catch (err) {
    throw new Error(`is not a valid regular expression: ${(err as Error).message}`, { cause: err });
  }
}

convict.addFormat({ name: 'string-map', validate: isStringMap, coerce: splitMap });

// Kafka's own names are upper case (SCRAM-SHA-512), the chart's lower case: both are accepted.
convict.addFormat({
  name: 'sasl-mechanism',
  validate: (value: unknown): void => {
    if (typeof value !== 'string' || !(SASL_MECHANISMS as readonly string[]).includes(value)) {
      throw new Error(`must be one of ${SASL_MECHANISMS.join(', ')} (any case)`);
    }
  },
  coerce: (value: unknown) => (typeof value === 'string' ? value.trim().toLowerCase() : value),
});

/** A secret's value: any string. The message never repeats what was received (convict omits it for sensitive keys too). */
function isSecret(value: unknown): void {
  if (typeof value !== 'string') throw new Error('must be a string (the value is not shown: it is a secret)');
}

function isFilePath(value: unknown): void {
  if (typeof value !== 'string' || value.includes('\0') || (value !== '' && value.trim() === '')) {
    throw new Error('must be a file path, or empty');
  }
}

function isServerName(value: unknown): void {
  const label = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
  if (typeof value !== 'string' || (value !== '' && (!new RegExp(`^${label}(?:\\.${label})*$`).test(value) || /^[0-9.]+$/.test(value)))) {
    throw new Error('must be a DNS name (the name in the broker certificate), or empty for the broker host');
  }
}

/**
 * How an input shapes its records: the same keys for the top-level input
 * (with environment variables) and for each of `inputs` (file only).
 */
function recordSettings(env: boolean) {
  const e = (name: string) => (env ? { env: name } : {});
  return {
    format: {
      doc: 'raw (the line, unchanged) or json (an envelope: message, @timestamp, log.file.path and .offset, kubernetes pod metadata, fields).',
      format: FORMATS as unknown as string[],
      default: 'raw',
      ...e('LOGAGENT_FORMAT'),
    },
    parse: {
      doc: 'none, or json: a line that is a JSON object is merged into the envelope under parsedField (a line that is not stays a string, counted).',
      format: PARSES as unknown as string[],
      default: 'none',
      ...e('LOGAGENT_PARSE'),
    },
    parsedField: {
      doc: "Field of the envelope that holds a parsed JSON line's keys (they never overwrite the envelope's own).",
      format: (value: unknown): void => {
        if (
          typeof value !== 'string' ||
          value === '' ||
          ['message', '@timestamp', 'log', 'kubernetes', 'fields', 'message_escaped'].includes(value)
        ) {
          throw new Error("must be a field name other than the envelope's own (message, @timestamp, log, kubernetes, fields)");
        }
      },
      default: 'json',
      ...e('LOGAGENT_PARSED_FIELD'),
    },
    key: {
      doc: "Kafka key: path (the file's lines stay on one partition, in order), none (spread by the partitioner), pod (POD_NAME: a pod's lines on one partition), or field:<name> (a field of the parsed JSON line).",
      format: isKeyPolicy,
      default: 'path',
      ...e('LOGAGENT_KEY'),
    },
    container: {
      doc: 'Container name written into the JSON envelope (kubernetes.container.name); empty: CONTAINER_NAME from the environment.',
      format: String,
      default: '',
      ...e('LOGAGENT_CONTAINER'),
    },
    fields: {
      doc: 'Static fields added to every JSON envelope (under "fields"): a mapping, or "name=value,..." in the environment.',
      format: 'string-map',
      default: {} as Record<string, string>,
      ...e('LOGAGENT_FIELDS'),
    },
    headers: {
      doc: 'Static Kafka headers on every record: a mapping, or "name=value,..." in the environment. Every record also carries logagent.source and logagent.offset (de-duplication).',
      format: 'string-map',
      default: {} as Record<string, string>,
      ...e('LOGAGENT_HEADERS'),
    },
    multiline: {
      start: {
        doc: 'Multiline events: a line matching this regular expression starts an event, other lines continue it (e.g. ^\\d{4}-\\d{2}-\\d{2} for timestamped Java logs). Empty: one line, one record.',
        format: isRegExpSource,
        default: '',
        ...e('LOGAGENT_MULTILINE_START'),
      },
      maxLines: {
        doc: 'Longest multiline event in lines; past it the event is cut, marked logagent.truncated and counted.',
        format: positiveInt('multiline.maxLines'),
        default: 500,
        ...e('LOGAGENT_MULTILINE_MAX_LINES'),
      },
      maxBytes: {
        doc: 'Longest multiline event in bytes; past it the event is cut, marked and counted.',
        format: positiveInt('multiline.maxBytes'),
        default: 1_000_000,
        ...e('LOGAGENT_MULTILINE_MAX_BYTES'),
      },
      timeoutMs: {
        doc: 'The last event is shipped once its file has been quiet this long (no next start line came).',
        format: positiveInt('multiline.timeoutMs'),
        default: 1_000,
        ...e('LOGAGENT_MULTILINE_TIMEOUT_MS'),
      },
    },
  };
}

/** One element of `inputs`: validated by its own convict schema, so errors name the input and the key. */
export const inputSchema = {
  name: {
    doc: 'Unique, stable name: identifies the input across reloads (its files keep their place when anything else about it changes).',
    format: (value: unknown): void => {
      // Empty: missing, reported as required by isInputList.
      if (typeof value !== 'string' || (value !== '' && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(value))) {
        throw new Error('must be 1-63 characters of A-Z a-z 0-9 . _ - (starting with a letter or digit)');
      }
    },
    default: '',
  },
  paths: {
    doc: 'Files to tail: a list of paths or globs (*, **, ?, [..], {a,b}), or one comma-separated string.',
    format: 'path-list',
    default: [] as string[],
  },
  exclude: {
    doc: 'Globs of files this input never tails.',
    format: 'glob-list',
    default: [] as string[],
  },
  topic: {
    doc: "Kafka topic of this input's lines.",
    format: topicName(),
    default: '',
  },
  startAt: {
    doc: 'beginning or end: where to start in a file that has no checkpoint and exists when the input starts.',
    format: START_AT as unknown as string[],
    default: 'end',
  },
  ...recordSettings(false),
};

/** Validates every element of `inputs` with inputSchema; one line per problem, naming the input by index and name. */
function isInputList(value: unknown): void {
  if (!Array.isArray(value)) throw new Error('must be a list of inputs');
  const problems: string[] = [];
  const seen = new Map<string, number>();
  value.forEach((element: unknown, index) => {
    const name =
      typeof element === 'object' && element !== null && typeof (element as { name?: unknown }).name === 'string'
        ? (element as { name: string }).name
        : undefined;
    const where = `inputs[${index}]${name === undefined ? '' : ` (${name})`}`;
    if (name !== undefined) {
      const first = seen.get(name);
      if (first !== undefined) problems.push(`${where}.name: duplicate input name (also inputs[${first}])`);
      else seen.set(name, index);
    }
    if (typeof element !== 'object' || element === null || Array.isArray(element)) {
      problems.push(`${where}: must be a mapping with name, paths, topic (and optionally exclude, startAt)`);
      return;
    }
    try {
      const child = convict(inputSchema as convict.Schema<any>, { env: {}, args: [] });
      child.load(element);
      child.validate({ allowed: 'strict' });
    } catch (err) {
      for (const line of String((err as Error).message).split('\n')) {
        if (line.trim() === '') continue;
        const undeclared = /^configuration param '([^']+)' not declared in the schema/.exec(line);
        problems.push(undeclared ? `${where}.${undeclared[1]}: unknown key` : `${where}.${line}`);
      }
    }
    for (const key of ['name', 'topic'] as const) {
      const v = (element as Record<string, unknown>)[key];
      if (v === undefined || v === '') problems.push(`${where}.${key}: is required`);
    }
    if (!Array.isArray((element as { paths?: unknown }).paths) && typeof (element as { paths?: unknown }).paths !== 'string') {
      problems.push(`${where}.paths: is required: at least one file path or glob`);
    }
  });
  if (problems.length > 0) throw new Error(`${INPUT_PROBLEMS_MARK}${problems.join(INPUT_PROBLEM_SEPARATOR)}${INPUT_PROBLEMS_END}`);
}

/** The record settings of an input that sets none (tests, and the defaults in one place). */
export function defaultRecordSettings(): import('./config.ts').RecordSettings {
  const { format, parse, parsedField, key, container, fields, headers, multiline } = normalizeInput(
    {},
  ) as unknown as import('./config.ts').RecordSettings;
  return { format, parse, parsedField, key, container, fields, headers, multiline };
}

/** An input as the agent uses it: defaults filled in, comma-separated strings split (the element was validated by isInputList). */
export function normalizeInput(element: unknown): Record<string, unknown> {
  const child = convict(inputSchema as convict.Schema<any>, { env: {}, args: [] });
  child.load(element);
  return child.getProperties() as Record<string, unknown>;
}

/** isInputList's message carries one problem per input key; loadConfig splits them back apart. */
export const INPUT_PROBLEMS_MARK = 'input problems: ';
export const INPUT_PROBLEM_SEPARATOR = ' ;; ';
export const INPUT_PROBLEMS_END = ' ;; (end of input problems)';

convict.addFormat({ name: 'input-list', validate: isInputList });
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
    client: {
      doc: "Kafka client: native (LogAgent's own producer: up to 5 requests in flight per broker, one buffer per request; docs/native-producer.md) or kafkajs.",
      format: CLIENTS as unknown as string[],
      default: 'native',
      env: 'KAFKA_CLIENT',
    },
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
      doc: "Idempotent producer, in effect with acks=all only: the broker drops a retried batch it already has and keeps each partition's order with several requests in flight (Kafka's own producer default since 3.0).",
      format: Boolean,
      default: true,
      env: 'KAFKA_IDEMPOTENT',
    },
    batchMaxBytes: {
      doc: 'Largest batch of line bytes sent in one produce request.',
      format: positiveInt('batchMaxBytes'),
      default: 1 * MiB,
      env: 'KAFKA_BATCH_MAX_BYTES',
    },
    lingerMs: {
      doc: 'While a partition has a produce request in flight, how long its next batch waits for more lines before it is sent, unless full (a partition with nothing in flight sends at once). 0: as soon as one of the 5 request slots per broker is free; lines arriving meanwhile make the next request.',
      format: 'nat',
      default: 0,
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
    tls: {
      enabled: {
        doc: 'TLS to every broker. The broker certificate is verified against caFile (else the system CAs) and, unless verifyServerName is false, its name against the broker host (or serverName).',
        format: Boolean,
        default: false,
        env: 'KAFKA_TLS_ENABLED',
      },
      caFile: {
        doc: 'PEM file of the CA certificates that sign the broker certificates; empty: the system CAs (and NODE_EXTRA_CA_CERTS). Re-read when it changes.',
        format: isFilePath,
        default: '',
        env: 'KAFKA_TLS_CA_FILE',
      },
      certFile: {
        doc: 'PEM file of the client certificate (mutual TLS; with its chain, if any), with keyFile. Re-read when it changes (cert-manager, a Secret update): a new producer takes over without losing a line.',
        format: isFilePath,
        default: '',
        env: 'KAFKA_TLS_CERT_FILE',
      },
      keyFile: {
        doc: 'PEM file of the client certificate private key. Re-read when it changes.',
        format: isFilePath,
        default: '',
        env: 'KAFKA_TLS_KEY_FILE',
      },
      keyPassphrase: {
        doc: 'Passphrase of an encrypted keyFile. Secret: never printed; prefer keyPassphraseFile.',
        format: isSecret,
        default: '',
        sensitive: true,
        env: 'KAFKA_TLS_KEY_PASSPHRASE',
      },
      keyPassphraseFile: {
        doc: 'File holding the passphrase of an encrypted keyFile (one trailing newline is ignored). Re-read when it changes.',
        format: isFilePath,
        default: '',
        env: 'KAFKA_TLS_KEY_PASSPHRASE_FILE',
      },
      verifyServerName: {
        doc: 'Check that the broker certificate names the broker host (or serverName). false keeps the CA check and skips the name check: for brokers whose certificates do not name the address clients use.',
        format: Boolean,
        default: true,
        env: 'KAFKA_TLS_VERIFY_SERVER_NAME',
      },
      serverName: {
        doc: 'Name sent as SNI and verified in every broker certificate instead of the broker host; empty: the host.',
        format: isServerName,
        default: '',
        env: 'KAFKA_TLS_SERVER_NAME',
      },
    },
    sasl: {
      mechanism: {
        doc: 'SASL authentication: none, plain, scram-sha-256, scram-sha-512 (username and password) or oauthbearer (tokenFile).',
        format: 'sasl-mechanism',
        default: 'none',
        env: 'KAFKA_SASL_MECHANISM',
      },
      username: {
        doc: 'SASL user (plain, scram-sha-256, scram-sha-512).',
        format: String,
        default: '',
        env: 'KAFKA_SASL_USERNAME',
      },
      password: {
        doc: 'SASL password. Secret: never printed; prefer passwordFile.',
        format: isSecret,
        default: '',
        sensitive: true,
        env: 'KAFKA_SASL_PASSWORD',
      },
      passwordFile: {
        doc: 'File holding the SASL password (one trailing newline is ignored), e.g. a mounted Secret. Re-read when it changes: a fixed password resumes shipping by itself.',
        format: isFilePath,
        default: '',
        env: 'KAFKA_SASL_PASSWORD_FILE',
      },
      tokenFile: {
        doc: 'oauthbearer: file holding the bearer token (a JWT, e.g. a projected service account token). Re-read when it changes and before it expires.',
        format: isFilePath,
        default: '',
        env: 'KAFKA_SASL_TOKEN_FILE',
      },
      tokenRefreshMs: {
        doc: 'oauthbearer: the token file is read again at least this often; a JWT is also read again when 80% of its remaining lifetime (exp) has passed.',
        format: positiveInt('tokenRefreshMs'),
        default: 60_000,
        env: 'KAFKA_SASL_TOKEN_REFRESH_MS',
      },
    },
  },
  topic: {
    doc: 'Topic of the top-level input, named `default` (the form `docker run` uses: LOGAGENT_PATHS + LOGAGENT_TOPIC). Required with `paths`, unless the config file lists `inputs`.',
    format: topicName(),
    default: '',
    env: 'LOGAGENT_TOPIC',
  },
  paths: {
    doc: 'Files of the top-level input `default`: comma-separated paths or globs (*, **, ?, [..], {a,b}). Symlinks are followed.',
    format: 'path-list',
    default: [] as string[],
    env: 'LOGAGENT_PATHS',
  },
  exclude: {
    doc: 'Globs of files the top-level input never tails, even when LOGAGENT_PATHS matches them.',
    format: 'glob-list',
    default: [] as string[],
    env: 'LOGAGENT_EXCLUDE',
  },
  startAt: {
    doc: 'Top-level input: where to start in a file that has no checkpoint and exists when the input starts. Files that appear later are always read from their beginning.',
    format: START_AT as unknown as string[],
    default: 'end',
    env: 'LOGAGENT_START_AT',
  },
  ...recordSettings(true),
  inputs: {
    doc: 'Config file only: a list of inputs, each with its own files and topic (see `inputs[].*`). A file matched by several inputs belongs to the first (the top-level input comes first).',
    format: 'input-list',
    default: [] as unknown[],
    children: inputSchema,
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
      doc: 'How often, at most, a file that is being written (grew in the last 2 s) is checked for more: one that grew at its last check is checked again after 20 ms, then ever less often up to this. Quiet files wait for a filesystem event or the scan.',
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
    default: 8 * MiB,
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
  kubernetes: {
    configMap: {
      doc: "Name of a ConfigMap to watch through the Kubernetes API (needs get, list, watch on it): changes apply within a second or two instead of at the kubelet's next volume sync. Empty: no API watch.",
      format: String,
      default: '',
      env: 'LOGAGENT_KUBERNETES_CONFIGMAP',
    },
    namespace: {
      doc: "Namespace of that ConfigMap; empty: POD_NAMESPACE, else the service account's namespace file.",
      format: String,
      default: '',
      env: 'LOGAGENT_KUBERNETES_NAMESPACE',
    },
    configKey: {
      doc: 'Key of the ConfigMap whose value is the configuration (YAML or JSON).',
      format: String,
      default: 'config.yaml',
      env: 'LOGAGENT_KUBERNETES_CONFIG_KEY',
    },
  },
  config: {
    checkIntervalMs: {
      doc: 'How often the configuration source is read again and compared by content hash, whatever filesystem events or the API watch said (the safety net for a missed update).',
      format: positiveInt('checkIntervalMs'),
      default: 30_000,
      env: 'LOGAGENT_CONFIG_CHECK_INTERVAL_MS',
    },
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
  /** A secret: redacted wherever configuration is shown. */
  readonly sensitive: boolean;
}

/** Every leaf of the schema, in declaration order; the keys of each `inputs` element as `inputs[].key`. */
export function schemaKeys(): SchemaKey[] {
  const out: SchemaKey[] = [];
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [name, value] of Object.entries(node)) {
      if (typeof value !== 'object' || value === null) continue;
      const key = prefix ? `${prefix}.${name}` : name;
      if ('doc' in value && 'default' in value) {
        const v = value as { doc: string; default: unknown; env?: string; sensitive?: boolean; children?: Record<string, unknown> };
        out.push({ key, env: v.env ?? '', default: v.default, doc: v.doc, sensitive: v.sensitive === true });
        if (v.children) walk(v.children, `${key}[]`);
      } else {
        walk(value as Record<string, unknown>, key);
      }
    }
  };
  walk(schema, '');
  return out;
}

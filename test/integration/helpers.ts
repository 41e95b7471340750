// Shared helpers of the integration tests: a real broker (started by
// scripts/kafka-local.sh), the real agent as a child process (the built
// dist/cli.js, as operators run it), and an in-process consumer that reads a
// topic back. Every helper registers its cleanup with t.after.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import type { KafkaMessage } from 'kafkajs';
import kafkajs from '../../src/sink/kafkajs.ts';
import { registerCodecs } from '../../src/sink/codecs.ts';
import { javaPartition as javaPartitionOf } from '../../src/sink/murmur2.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'dist', 'cli.js');
/** The node flags of the bin's shebang (src/cli.ts), for tests that start `node dist/cli.js` themselves. */
export const BIN_NODE_FLAGS = ['--max-semi-space-size=1', '--disable-warning=TimeoutNegativeWarning'];
export const KAFKA_LOCAL = join(ROOT, 'scripts', 'kafka-local.sh');

/** The broker the suite runs against (scripts/test.sh starts it). */
export function brokers(): string {
  return process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
}

export function uniqueTopic(prefix = 't'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function tmpDir(t: TestContext, prefix = 'logagent-it-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const silentLog = () => () => undefined;

export function kafkaClient(bootstrap = brokers()) {
  registerCodecs();
  return new kafkajs.Kafka({ clientId: 'logagent-test', brokers: bootstrap.split(','), logCreator: silentLog });
}

export async function createTopic(name: string, partitions = 1, replicationFactor = 1, bootstrap = brokers()): Promise<void> {
  const admin = kafkaClient(bootstrap).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: name, numPartitions: partitions, replicationFactor }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** Waits until the topic exists (the agent creates it on its first delivery). */
export async function waitForTopic(topic: string, timeoutMs = 30_000, bootstrap = brokers()): Promise<void> {
  const admin = kafkaClient(bootstrap).admin();
  await admin.connect();
  try {
    await waitFor(async () => (await admin.listTopics()).includes(topic), timeoutMs, `topic ${topic}`);
  } finally {
    await admin.disconnect();
  }
}

export interface Consumed {
  partition: number;
  offset: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

/**
 * Reads a topic from the beginning until `expected` messages arrived and no
 * more come for `settleMs` (so duplicates past the expected count are seen),
 * or until `timeoutMs`. Returns what arrived; the caller asserts.
 */
export async function consumeAll(
  topic: string,
  options: { expected: number; timeoutMs?: number; settleMs?: number; bootstrap?: string },
): Promise<Consumed[]> {
  return (await consumeAllRaw(undefined, topic, options)).map(asText);
}

export interface AgentProcess {
  readonly proc: ChildProcess;
  /** Everything the agent logged so far (JSON lines on stderr). */
  logs(): string;
  /** Parsed log records. */
  records(): Array<Record<string, unknown>>;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | string>;
  /** Waits until a log record satisfies `pred`. */
  waitForLog(pred: (r: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Starts `logagent run` with the given env on top of a test baseline (no HTTP, fast timers). */
export function startAgent(t: TestContext, env: Record<string, string>, args: string[] = ['run']): AgentProcess {
  // The bin itself, as operators run it (its shebang carries the V8 flags).
  const proc = spawn(CLI, args, {
    env: {
      PATH: process.env.PATH ?? '',
      KAFKA_BROKERS: brokers(),
      LOGAGENT_HTTP_PORT: '0',
      LOGAGENT_LOG_LEVEL: 'info',
      LOGAGENT_SCAN_INTERVAL_MS: '200',
      LOGAGENT_POLL_INTERVAL_MS: '100',
      LOGAGENT_CHECKPOINT_INTERVAL_MS: '200',
      LOGAGENT_SHUTDOWN_QUIET_MS: '300',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  const records = () =>
    stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      });
  return {
    proc,
    logs: () => stderr,
    records,
    exited,
    signal: (sig) => proc.kill(sig),
    stop: async () => {
      proc.kill('SIGTERM');
      return exited;
    },
    waitForLog: async (pred, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const hit = records().find(pred);
        if (hit) return hit;
        if (proc.exitCode !== null) throw new Error(`agent exited (${proc.exitCode}) before the expected log:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out waiting for a log record; agent output:\n${stderr}`);
    },
  };
}

/** Waits until the agent logged that it started. */
export async function agentStarted(agent: AgentProcess): Promise<void> {
  await agent.waitForLog((r) => r.msg === 'logagent started');
}

/** Runs the CLI to completion. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    // The bin's own flags (its shebang), as every place that starts the agent passes them.
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [...BIN_NODE_FLAGS, CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: timeoutMs,
      maxBuffer: 256 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Appends lines `${prefix}${i}` for i in [from, to). */
export function appendNumbered(path: string, from: number, to: number, prefix = 'line-'): void {
  const parts: string[] = [];
  for (let i = from; i < to; i++) parts.push(`${prefix}${i}\n`);
  appendFileSync(path, parts.join(''));
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Runs scripts/kafka-local.sh with the given args and env; returns its last stdout line. */
export async function kafkaLocal(args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [KAFKA_LOCAL, ...args], {
    env: { ...process.env, ...env },
    timeout: 180_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.trim().split('\n').pop() ?? '';
}

/** Counts how often each numbered line arrived. */
export function tally(messages: Consumed[], prefix = 'line-'): Map<number, number> {
  const counts = new Map<number, number>();
  for (const m of messages) {
    if (!m.value.startsWith(prefix)) continue;
    const n = Number(m.value.slice(prefix.length));
    counts.set(n, (counts.get(n) ?? 0) + 1);
  }
  return counts;
}

/** Numbers in [from, to) that never arrived. */
export function missing(counts: Map<number, number>, from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) if (!counts.has(i)) out.push(i);
  return out;
}

/** A consumed message with its bytes as they are in Kafka (no decoding). */
export interface RawConsumed {
  partition: number;
  offset: string;
  /** CreateTime the producer set, epoch ms. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}

function toRaw(partition: number, m: KafkaMessage): RawConsumed {
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (v === undefined) continue;
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) headers[k] = Buffer.isBuffer(first) ? first : Buffer.from(first);
  }
  return { partition, offset: m.offset, timestamp: Number(m.timestamp), key: m.key, value: m.value, headers };
}

/** The text view of a raw message, for tally()/missing(). */
export function asText(m: RawConsumed): Consumed {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers)) headers[k] = v.toString();
  return { partition: m.partition, offset: m.offset, key: m.key?.toString() ?? '', value: m.value?.toString() ?? '', headers };
}

export interface LiveConsumer {
  /** Everything consumed so far, in arrival order (grows while the consumer runs). */
  readonly messages: RawConsumed[];
  /** Waits until `pred` holds over what arrived, or fails after `timeoutMs`. */
  waitUntil(pred: (messages: RawConsumed[]) => boolean, timeoutMs: number, what: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A consumer that reads the topic from the beginning in the background, for
 * tests that must watch what arrived while they act. Waits for the topic to
 * exist first (so it never auto-creates it). Stopped by stop() or t.after.
 */
export async function startConsumer(
  t: TestContext | undefined,
  topic: string,
  options: { topicTimeoutMs?: number; bootstrap?: string } = {},
): Promise<LiveConsumer> {
  await waitForTopic(topic, options.topicTimeoutMs ?? 30_000, options.bootstrap);
  const consumer = kafkaClient(options.bootstrap).consumer({
    groupId: `it-${randomUUID()}`,
    maxBytes: 50 * 1024 * 1024,
    maxWaitTimeInMs: 250,
  });
  const messages: RawConsumed[] = [];
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= consumer.disconnect());
  t?.after(stop);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) messages.push(toRaw(batch.partition, m));
    },
  });
  return {
    messages,
    waitUntil: (pred, timeoutMs, what) => waitFor(() => pred(messages), timeoutMs, what),
    stop,
  };
}

/**
 * Reads a topic from the beginning until `expected` messages arrived and no
 * more come for `settleMs` (so duplicates past the expected count are seen),
 * or until `timeoutMs`. Returns what arrived, as raw bytes; the caller asserts.
 */
export async function consumeAllRaw(
  t: TestContext | undefined,
  topic: string,
  options: { expected: number; timeoutMs?: number; settleMs?: number; bootstrap?: string },
): Promise<RawConsumed[]> {
  const { expected, timeoutMs = 60_000, settleMs = 1_500 } = options;
  const live = await startConsumer(t, topic, {
    topicTimeoutMs: Math.min(timeoutMs, 30_000),
    ...(options.bootstrap ? { bootstrap: options.bootstrap } : {}),
  });
  let count = -1;
  let lastAt = Date.now();
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      if (live.messages.length !== count) {
        count = live.messages.length;
        lastAt = Date.now();
      }
      if (count >= expected && Date.now() - lastAt >= settleMs) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await live.stop();
  }
  return live.messages;
}

/** The lines `${prefix}${i}` for i in [from, to), without terminators. */
export function numbered(from: number, to: number, prefix = 'line-'): string[] {
  return Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);
}

/** Partition count of a topic, from the broker's metadata. */
export async function partitionCount(topic: string, bootstrap = brokers()): Promise<number> {
  const admin = kafkaClient(bootstrap).admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]?.partitions.length ?? 0;
  } finally {
    await admin.disconnect();
  }
}

/** Whether the topic exists, without creating it (listTopics never auto-creates). */
export async function topicExists(topic: string, bootstrap = brokers()): Promise<boolean> {
  const admin = kafkaClient(bootstrap).admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).includes(topic);
  } finally {
    await admin.disconnect();
  }
}

/** The partition the Java producer's default partitioner picks for a keyed record (murmur2 is checked against kafkajs and Kafka's own test value in test/unit/sink/murmur2.test.ts). */
export function javaPartition(key: string, partitions: number): number {
  return javaPartitionOf(Buffer.from(key, 'utf8'), partitions);
}

/** Path of the kcat (or older kafkacat) binary, or undefined when neither is installed. */
export function kcatPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    for (const name of ['kcat', 'kafkacat']) {
      const path = join(dir, name);
      if (dir !== '' && existsSync(path)) return path;
    }
  }
  return undefined;
}

/** Reads a whole topic with kcat (librdkafka: a second, non-kafkajs client); returns the values' bytes, in order per partition. */
export async function kcatValues(kcat: string, topic: string, bootstrap = brokers()): Promise<Buffer[]> {
  const { stdout } = await promisify(execFile)(kcat, ['-C', '-b', bootstrap, '-t', topic, '-e', '-q', '-f', '%s\n'], {
    timeout: 60_000,
    maxBuffer: 256 * 1024 * 1024,
    encoding: 'buffer',
  });
  const values: Buffer[] = [];
  for (let start = 0; start < stdout.length;) {
    const end = stdout.indexOf(0x0a, start);
    if (end === -1) break;
    values.push(stdout.subarray(start, end));
    start = end + 1;
  }
  return values;
}

const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/**
 * The compression codecs of the record batches the local broker stored for a
 * topic, read from its log segments (batch attributes, low 3 bits), or
 * undefined when the broker's data directory is not on this machine.
 */
export function storedCodecs(topic: string): Set<string> | undefined {
  const runDir = process.env.KAFKA_LOCAL_DIR ?? join(ROOT, '.run', 'kafka');
  if (!existsSync(runDir)) return undefined;
  const codecs = new Set<string>();
  let found = false;
  for (const node of readdirSync(runDir)) {
    const dataDir = join(runDir, node, 'data');
    if (!existsSync(dataDir)) continue;
    for (const partitionDir of readdirSync(dataDir)) {
      if (!new RegExp(`^${topic.replace(/[.]/g, '\\.')}-\\d+$`).test(partitionDir)) continue;
      for (const file of readdirSync(join(dataDir, partitionDir))) {
        if (!file.endsWith('.log')) continue;
        found = true;
        const segment = readFileSync(join(dataDir, partitionDir, file));
        // Record batch v2: baseOffset int64, batchLength int32, leaderEpoch int32, magic int8, crc int32, attributes int16.
        for (let pos = 0; pos + 23 <= segment.length;) {
          const batchLength = segment.readInt32BE(pos + 8);
          if (batchLength <= 0) break;
          codecs.add(CODEC_NAMES[segment.readInt16BE(pos + 21) & 0x7] ?? 'unknown');
          pos += 12 + batchLength;
        }
      }
    }
  }
  return found ? codecs : undefined;
}

/** Resident set size of a process, from /proc. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
/** Sum of every series of a metric in Prometheus text. */
export function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
export async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}
/**
 * Starts a separate Kafka cluster in its own run dir; the t.after hook that
 * stops it (and removes the dir) is registered before the start, so a failed
 * start or a failed test never leaves brokers behind.
 */
export async function ownCluster(
  t: TestContext,
  env: Record<string, string>,
  brokers: 1 | 3,
): Promise<{ env: Record<string, string>; bootstrap: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-kafka-'));
  const full = { ...env, KAFKA_LOCAL_DIR: dir };
  t.after(async () => {
    try {
      await kafkaLocal(['stop'], full);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  const bootstrap = await kafkaLocal(['start', '--brokers', String(brokers)], full);
  return { env: full, bootstrap };
}

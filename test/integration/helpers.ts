// Shared helpers of the integration tests: a real broker (started by
// scripts/kafka-local.sh), the real agent as a child process (the built
// dist/cli.js, as operators run it), and an in-process consumer that reads a
// topic back. Every helper registers its cleanup with t.after.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import type { KafkaMessage } from 'kafkajs';
import kafkajs from '../../src/sink/kafkajs.ts';
import { registerCodecs } from '../../src/sink/codecs.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'dist', 'cli.js');
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
  const { expected, timeoutMs = 60_000, settleMs = 1_500 } = options;
  await waitForTopic(topic, Math.min(timeoutMs, 30_000), options.bootstrap);
  const consumer = kafkaClient(options.bootstrap).consumer({ groupId: `it-${randomUUID()}`, maxBytes: 50 * 1024 * 1024 });
  const out: Consumed[] = [];
  let lastAt = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) out.push(toConsumed(batch.partition, m));
        lastAt = Date.now();
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (out.length >= expected && Date.now() - lastAt >= settleMs) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await consumer.disconnect();
  }
  return out;
}

function toConsumed(partition: number, m: KafkaMessage): Consumed {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = String(v);
  return { partition, offset: m.offset, key: m.key?.toString() ?? '', value: m.value?.toString() ?? '', headers };
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
  const proc = spawn(process.execPath, [CLI, ...args], {
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
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], {
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

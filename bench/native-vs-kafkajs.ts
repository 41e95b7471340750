// Produces N lines of ~200 bytes from memory through each sink, the native
// producer (src/sink/native) and the kafkajs one (src/sink/kafka-sink.ts),
// each in its own child process, to a fresh topic of P partitions with
// acks=all, and prints wall time, lines/s, CPU µs per line and peak RSS.
//
// The child feeds the sink as the agent's readers do: batches of one read
// chunk (256 KiB of lines, the default LOGAGENT_READ_CHUNK_BYTES), no more
// than the default in-flight budget (4 MiB) unacknowledged, each line
// `%09d ` + a printable payload. Lines are made as they are sent, into
// chunk buffers reused once their batch is acknowledged, so the RSS is the
// sink's, not a 200 MB corpus nor the feeder's garbage. The parent checks
// the topic's end offsets add up to N.
//
//   source scripts/env.sh
//   KAFKA_LOCAL_DIR=/tmp/bench-kafka KAFKA_LOCAL_PORT=39092 bash scripts/kafka-local.sh start
//   node bench/native-vs-kafkajs.ts --brokers 127.0.0.1:39092 [--lines 1000000] [--partitioner hash|round-robin]
//        [--compression none|gzip|snappy|lz4|zstd] [--runs 1] [--only native|kafkajs|platformatic|platformatic-nonidem]
//
// platformatic and platformatic-nonidem measure @platformatic/kafka (not a
// dependency: `npm install --no-save @platformatic/kafka@2.12.1` first) fed
// the same chunks, each line a message of one send() per chunk, with the
// same bound on unacknowledged bytes; idempotent (its idempotent producer
// keeps one request in flight) and not. The topic is created first (its
// producer does not create topics unless told to).
//
// The children run this file bundled to plain JavaScript by esbuild
// (packages stay in node_modules) with the bin's V8 flags, as the agent
// runs from dist/: Node's TypeScript stripping alone adds ~30 MiB of RSS.

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import type { CompressionName, KafkaConfig, PartitionerName } from '../src/config/config.ts';
import { Metrics } from '../src/metrics.ts';
import { LineBatch, type BatchOwner } from '../src/sink/line-batch.ts';

const { values: args } = parseArgs({
  options: {
    child: { type: 'string' },
    topic: { type: 'string' },
    brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:39092' },
    lines: { type: 'string', default: '1000000' },
    'line-bytes': { type: 'string', default: '200' },
    partitions: { type: 'string', default: '3' },
    partitioner: { type: 'string', default: 'hash' },
    compression: { type: 'string', default: 'none' },
    runs: { type: 'string', default: '1' },
    only: { type: 'string' },
  },
});

const N = Number(args.lines);
const LINE_BYTES = Number(args['line-bytes']);
const CHUNK_BYTES = 256 * 1024;
const BUDGET_BYTES = 4 * 1024 * 1024;

interface Result {
  sink: string;
  wallS: number;
  cpuS: number;
  peakRssMiB: number;
  /** RSS once the sink is constructed, before the first line. */
  startRssMiB: number;
  acked: number;
}

function kafkaConfig(topicPartitions: number): KafkaConfig {
  return {
    client: 'native',
    brokers: args.brokers.split(','),
    clientId: 'bench',
    acks: 'all',
    partitioner: args.partitioner as PartitionerName,
    partition: 0,
    compression: args.compression as CompressionName,
    idempotent: true,
    batchMaxBytes: 1024 * 1024,
    lingerMs: 5,
    requestTimeoutMs: 30_000,
    connectionTimeoutMs: 5_000,
    retryMaxBackoffMs: 10_000,
    topicCreate: true,
    topicPartitions,
    topicReplicationFactor: 1,
  };
}

function peakRssMiB(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** One read chunk of numbered lines: `%09d ` + payload, '\n' terminated. */
function makeChunk(buffer: Buffer, from: number, count: number, payload: Buffer, owner: BatchOwner, topic: string, seq: number): LineBatch {
  const lineLen = LINE_BYTES + 1;
  const ends: number[] = [];
  const nexts: number[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * lineLen;
    // `%09d ` without a string per line: the feeder's garbage is not the sink's.
    for (let d = 8, n = from + i; d >= 0; d--, n = Math.floor(n / 10)) buffer[o + d] = 0x30 + (n % 10);
    buffer[o + 9] = 0x20;
    payload.copy(buffer, o + 10, (from + i) % 64, ((from + i) % 64) + LINE_BYTES - 10);
    buffer[o + LINE_BYTES] = 0x0a;
    ends.push(o + LINE_BYTES);
    nexts.push(o + lineLen);
  }
  return new LineBatch({
    owner,
    seq,
    identity: '1:1',
    topic,
    key: '/var/log/app/access.log',
    buffer,
    bufferOffset: from * lineLen,
    first: 0,
    ends,
    nexts,
    truncated: false,
    chargedBytes: buffer.length + count * 24 + 768,
    readAt: Date.now(),
  });
}

const NO_OWNER: BatchOwner = { onBatchAcked: () => undefined };

/** The module is not a dependency: named through a variable so that the typecheck does not look for it. */
const PLATFORMATIC = '@platformatic/kafka';

interface PlatformaticProducer {
  send(options: { messages: Array<{ topic: string; key: Buffer; value: Buffer }> }): Promise<unknown>;
  close(): Promise<void>;
}

async function platformaticChild(kind: string, topic: string): Promise<void> {
  const mod = (await import(PLATFORMATIC)) as {
    Producer: new (options: Record<string, unknown>) => PlatformaticProducer;
    ProduceAcks: { ALL: number };
  };
  const producer = new mod.Producer({
    clientId: 'bench',
    bootstrapBrokers: args.brokers.split(','),
    acks: mod.ProduceAcks.ALL,
    idempotent: kind === 'platformatic',
    ...(args.compression === 'none' ? {} : { compression: args.compression }),
  });
  const startRssMiB = process.memoryUsage().rss / 1024 / 1024;
  const payload = Buffer.alloc(LINE_BYTES + 64);
  for (let i = 0; i < payload.length; i++) payload[i] = 0x21 + ((i * 7919) % 94);
  const key = Buffer.from('/var/log/app/access.log');
  const lineLen = LINE_BYTES + 1;
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / lineLen));
  let inflight = 0;
  let acked = 0;
  let failed: unknown;
  let wake: (() => void) | undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const sends: Array<Promise<unknown>> = [];
  for (let from = 0; from < N; from += perChunk) {
    while (inflight > BUDGET_BYTES) await new Promise<void>((r) => (wake = r));
    if (failed) throw new Error('send failed', { cause: failed });
    const count = Math.min(perChunk, N - from);
    const buffer = Buffer.allocUnsafe(count * lineLen);
    // The same lines as the other clients get; the batch only lends its views.
    const lines = makeChunk(buffer, from, count, payload, NO_OWNER, topic, 0);
    const messages = Array.from({ length: count }, (_, i) => ({ topic, key, value: lines.value(i) }));
    inflight += buffer.length;
    sends.push(
      producer.send({ messages }).then(
        () => {
          inflight -= buffer.length;
          acked += count;
          wake?.();
        },
        (err: unknown) => {
          failed = err;
          wake?.();
        },
      ),
    );
  }
  await Promise.all(sends);
  if (failed) throw new Error('send failed', { cause: failed });
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const result: Result = { sink: kind, wallS, cpuS: (cpu.user + cpu.system) / 1e6, peakRssMiB: peakRssMiB(), startRssMiB, acked };
  await producer.close();
  process.stdout.write(JSON.stringify(result) + '\n');
}

async function child(kind: string, topic: string): Promise<void> {
  if (kind.startsWith('platformatic')) return platformaticChild(kind, topic);
  const config = kafkaConfig(Number(args.partitions));
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const metrics = new Metrics();
  // Only the sink under test is loaded: the native one never loads kafkajs.
  const sink =
    kind === 'native'
      ? new (await import('../src/sink/native/native-sink.ts')).NativeKafkaSink({ config, logger, metrics })
      : new (await import('../src/sink/kafka-sink.ts')).KafkaSink({ config, logger, metrics });
  const startRssMiB = process.memoryUsage().rss / 1024 / 1024;
  const payload = Buffer.alloc(LINE_BYTES + 64);
  for (let i = 0; i < payload.length; i++) payload[i] = 0x21 + ((i * 7919) % 94);
  let inflight = 0;
  let acked = 0;
  let wake: (() => void) | undefined;
  const free: Buffer[] = [];
  const owner: BatchOwner = {
    onBatchAcked(b) {
      free.push(b.buffer);
      inflight -= b.chargedBytes;
      acked += b.count;
      wake?.();
    },
  };
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / (LINE_BYTES + 1)));
  const maxMem: Record<string, number> = {};
  const sampler = process.env.BENCH_DEBUG
    ? setInterval(() => {
        for (const [k, v] of Object.entries(process.memoryUsage())) maxMem[k] = Math.max(maxMem[k] ?? 0, Math.round(v / 1048576));
      }, 20)
    : undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  sink.start();
  let seq = 0;
  for (let from = 0; from < N; from += perChunk) {
    while (inflight > BUDGET_BYTES) await new Promise<void>((r) => (wake = r));
    const count = Math.min(perChunk, N - from);
    const buffer = (free.pop() ?? Buffer.allocUnsafe(perChunk * (LINE_BYTES + 1))).subarray(0, count * (LINE_BYTES + 1));
    const batch = makeChunk(buffer, from, count, payload, owner, topic, seq++);
    inflight += batch.chargedBytes;
    sink.send(batch);
  }
  await sink.drain();
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const result: Result = { sink: kind, wallS, cpuS: (cpu.user + cpu.system) / 1e6, peakRssMiB: peakRssMiB(), startRssMiB, acked };
  clearInterval(sampler);
  if (sampler) process.stderr.write(`max MiB ${JSON.stringify(maxMem)}\n`);
  await sink.close(2_000);
  process.stdout.write(JSON.stringify(result) + '\n');
}

async function createTopic(topic: string, partitions: number, replication: number, brokers: string): Promise<void> {
  const helpers = await import('../test/integration/helpers.ts');
  await helpers.createTopic(topic, partitions, replication, brokers);
}

async function endOffsets(topic: string): Promise<number> {
  const { kafkaClient } = await import('../test/integration/helpers.ts');
  const admin = kafkaClient(args.brokers).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, o) => n + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** This file as one JavaScript module in .run/bench (packages external). */
async function bundle(): Promise<string> {
  const here = fileURLToPath(import.meta.url);
  const outfile = join(dirname(here), '..', '.run', 'bench', 'native-vs-kafkajs.mjs');
  mkdirSync(dirname(outfile), { recursive: true });
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [here],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}

function runChild(script: string, kind: string, topic: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    // The V8 flag of the logagent bin's shebang (src/cli.ts), as the agent runs.
    const proc = spawn(process.execPath, ['--max-semi-space-size=1', script, '--child', kind, '--topic', topic, ...process.argv.slice(2)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`${kind} child exited ${code}: ${out}`));
      else resolve(JSON.parse(line) as Result);
    });
  });
}

async function main(): Promise<void> {
  if (args.child) return child(args.child, args.topic as string);
  const kinds = args.only ? args.only.split(',') : ['native', 'kafkajs'];
  const script = await bundle();
  console.log(
    `${N} lines of ${LINE_BYTES} B, acks=all, ${args.partitions} partitions, partitioner ${args.partitioner}, compression ${args.compression}, node ${process.version}`,
  );
  console.log('| sink | wall s | lines/s | CPU s | CPU µs/line | RSS at start MiB | peak RSS MiB | in topic |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (let run = 0; run < Number(args.runs); run++) {
    for (const kind of kinds) {
      const topic = `bench-${kind}-${randomUUID().slice(0, 8)}`;
      if (kind.startsWith('platformatic')) await createTopic(topic, Number(args.partitions), 1, args.brokers);
      const r = await runChild(script, kind, topic);
      const stored = await endOffsets(topic);
      console.log(
        `| ${kind} | ${r.wallS.toFixed(2)} | ${Math.round(N / r.wallS).toLocaleString('en')} | ${r.cpuS.toFixed(2)} | ${((r.cpuS * 1e6) / N).toFixed(2)} | ${r.startRssMiB.toFixed(0)} | ${r.peakRssMiB.toFixed(0)} | ${stored === N ? 'all' : `${stored} of ${N}`} |`,
      );
    }
  }
}

await main();

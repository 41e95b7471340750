// Throughput benchmark: the real agent (`node dist/cli.js run`) against kcat
// (librdkafka) producing the same file, acks=all, to fresh topics of the same
// shape. See bench/README.md for how to run it and what each figure means.
//
//   node bench/throughput.ts [--lines N] [--line-bytes B] [--brokers host:port]
//                            [--partitions P] [--compression C] [--cpu-prof]
//                            [--kafka-dir DIR] [--json FILE] [--keep]

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Admin } from 'kafkajs';
import kafkajs from '../src/sink/kafkajs.ts';
import { registerCodecs } from '../src/sink/codecs.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const GNU_TIME = '/usr/bin/time';
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const POLL_MS = 50;

const { values: opts } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    'line-bytes': { type: 'string', default: '200' },
    brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:39092' },
    partitions: { type: 'string', default: '3' },
    compression: { type: 'string', default: 'none' },
    'kafka-dir': { type: 'string', default: process.env.KAFKA_LOCAL_DIR ?? '/tmp/bench-kafka' },
    'timeout-s': { type: 'string', default: '600' },
    'cpu-prof': { type: 'boolean', default: false },
    'agent-env': { type: 'string', multiple: true, default: [] },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (opts.help) {
  process.stdout.write(
    readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('\n')
      .slice(0, 9)
      .join('\n') + '\n',
  );
  process.exit(0);
}

const N = positive('lines', opts.lines);
const LINE_BYTES = positive('line-bytes', opts['line-bytes']);
const PARTITIONS = positive('partitions', opts.partitions);
const BROKERS = opts.brokers;
const COMPRESSION = opts.compression;
const TIMEOUT_MS = positive('timeout-s', opts['timeout-s']) * 1000;
/** Extra environment of the agent (--agent-env K=V, repeatable), applied last: experiments such as KAFKA_PARTITIONER=round-robin. */
const AGENT_ENV: Record<string, string> = Object.fromEntries(
  (opts['agent-env'] ?? []).map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) fail(`--agent-env needs K=V, got ${kv}`);
    return [kv.slice(0, eq), kv.slice(eq + 1)];
  }),
);
const KCAT_CODEC: Record<string, string> = { none: 'none', gzip: 'gzip', snappy: 'snappy', lz4: 'lz4', zstd: 'zstd' };
if (!(COMPRESSION in KCAT_CODEC)) fail(`--compression must be one of ${Object.keys(KCAT_CODEC).join(', ')}`);

function positive(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) fail(`--${name} must be a positive integer, got ${raw}`);
  return n;
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${message}\n`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => performance.now();

// ------------------------------------------------------------------ /proc

interface ProcCpu {
  user: number;
  sys: number;
}

/** utime + stime of a live process, in seconds (/proc/<pid>/stat fields 14 and 15). */
function procCpu(pid: number): ProcCpu | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / CLK_TCK, sys: Number(fields[12]) / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** VmRSS / VmHWM of a live process, in KiB. */
function procMem(pid: number): { rssKiB: number; hwmKiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
  } catch {
    return undefined;
  }
}

/** CPU seconds per thread of a process, keyed by tid, with the thread name. */
function threadCpu(pid: number | undefined): Map<string, { name: string; s: number }> {
  const out = new Map<string, { name: string; s: number }>();
  if (pid === undefined) return out;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { name, s: (Number(fields[11]) + Number(fields[12])) / CLK_TCK });
    } catch {
      // thread ended
    }
  }
  return out;
}

/** CPU seconds spent between two snapshots, grouped by thread name (digits folded), biggest first. */
function threadDelta(a: Map<string, { name: string; s: number }>, b: Map<string, { name: string; s: number }>, top = 6): string {
  const groups = new Map<string, number>();
  for (const [tid, t] of b) {
    const d = t.s - (a.get(tid)?.s ?? 0);
    if (d <= 0) continue;
    const name = t.name.replace(/\d+/g, '#');
    groups.set(name, (groups.get(name) ?? 0) + d);
  }
  return [...groups]
    .sort((x, y) => y[1] - x[1])
    .slice(0, top)
    .map(([n, v]) => `${n} ${v.toFixed(2)}`)
    .join(', ');
}

/** Whole-machine jiffies (all cores): busy and total, from the first line of /proc/stat. */
function machineJiffies(): { busy: number; total: number; benchS: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  // user nice system idle iowait irq softirq steal; guest time is already inside user, so it is left out.
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const own = process.cpuUsage();
  return { busy: total - idle, total, benchS: (own.user + own.system) / 1e6 };
}

/** The only child of a process (GNU time's child is the measured command). */
async function childPid(parent: number, timeoutMs = 5_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const kids = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim();
      if (kids) return Number(kids.split(/\s+/)[0]);
    } catch {
      // not yet
    }
    await sleep(2);
  }
  throw new Error(`process ${parent} started no child within ${timeoutMs} ms`);
}

interface GnuTime {
  userS: number;
  sysS: number;
  maxRssKiB: number;
  wallS: number;
  exitStatus: number;
}

function parseGnuTime(path: string): GnuTime {
  const text = readFileSync(path, 'utf8');
  const num = (label: string) => Number(new RegExp(`${label}[^:]*:\\s*([\\d.]+)`).exec(text)?.[1] ?? NaN);
  const wall = /Elapsed \(wall clock\) time[^:]*:\s*(?:(\d+):)?(\d+):([\d.]+)/.exec(text);
  const wallS = wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN;
  return {
    userS: num('User time'),
    sysS: num('System time'),
    maxRssKiB: num('Maximum resident set size'),
    wallS,
    exitStatus: num('Exit status'),
  };
}

/** Which code was measured: git HEAD, local changes under src/, and a digest of dist/. */
function buildFacts(): string {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js')) files.push(p);
    }
  };
  walk(join(ROOT, 'dist'));
  const hash = createHash('sha256');
  for (const file of files.sort()) hash.update(file).update(readFileSync(file));
  const dirty = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
  return `git ${git('rev-parse', '--short', 'HEAD')}, ${dirty} changed file(s) under src/, dist/*.js sha256 ${hash.digest('hex').slice(0, 12)}`;
}

// ------------------------------------------------------------------ broker facts

function brokerPid(): number | undefined {
  const dir = opts['kafka-dir'];
  if (!dir || !existsSync(dir)) return undefined;
  for (const node of readdirSync(dir).filter((d) => d.startsWith('node'))) {
    try {
      const pid = Number(readFileSync(join(dir, node, 'kafka.pid'), 'utf8').trim());
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('kafka.Kafka')) return pid;
    } catch {
      // not running
    }
  }
  return undefined;
}

function brokerFacts(pid: number | undefined): string[] {
  if (pid === undefined) return [`broker JVM: unknown (no running broker found under --kafka-dir ${opts['kafka-dir']})`];
  const out: string[] = [];
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const cpIndex = argv.indexOf('-cp');
  out.push(`broker pid ${pid}, command-line JVM flags: ${argv.slice(1, cpIndex < 0 ? undefined : cpIndex).join(' ')}`);
  try {
    const flags = execFileSync('jcmd', [String(pid), 'VM.flags'], { encoding: 'utf8', timeout: 15_000 })
      .split('\n')
      .slice(1)
      .join(' ')
      .trim();
    out.push(`broker JVM flags in effect (jcmd VM.flags): ${flags}`);
  } catch (err) {
    out.push(`broker jcmd VM.flags failed: ${(err as Error).message.split('\n')[0]}`);
  }
  const props = argv[argv.length - 1];
  if (props?.endsWith('.properties') && existsSync(props)) {
    const keep =
      /^(num\.network\.threads|num\.io\.threads|log\.dirs|min\.insync\.replicas|default\.replication\.factor|message\.max\.bytes|log\.flush|# KAFKA_LOCAL_PROPS)/;
    const lines = readFileSync(props, 'utf8')
      .split('\n')
      .filter((l) => keep.test(l));
    out.push(`broker ${props}: ${lines.join(', ')}`);
  }
  return out;
}

// ------------------------------------------------------------------ input file

/** Writes N lines `%0Wd <payload>` of exactly LINE_BYTES bytes (plus '\n'). */
async function generateFile(path: string): Promise<number> {
  const width = Math.max(9, String(N - 1).length);
  const payloadLen = Math.max(0, LINE_BYTES - width - 1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+.:;/ ';
  const pool = Array.from(randomBytes(65_536 + payloadLen), (b) => alphabet[b % alphabet.length]).join('');
  const out = createWriteStream(path);
  let chunk: string[] = [];
  let chunkBytes = 0;
  for (let i = 0; i < N; i++) {
    const start = (i * 7919) % 65_536;
    const line = `${String(i).padStart(width, '0')} ${pool.slice(start, start + payloadLen)}`.slice(0, Math.max(LINE_BYTES, width));
    chunk.push(line, '\n');
    chunkBytes += line.length + 1;
    if (chunkBytes >= 1 << 20) {
      if (!out.write(chunk.join(''))) await new Promise<void>((r) => out.once('drain', () => r()));
      chunk = [];
      chunkBytes = 0;
    }
  }
  out.write(chunk.join(''));
  await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
  // Flush to disk so the runs do not compete with writeback; the file stays in the page cache.
  execFileSync('sync');
  const size = Number(execFileSync('stat', ['-c', '%s', path], { encoding: 'utf8' }).trim());
  return size;
}

// ------------------------------------------------------------------ kafka

function kafkaClient() {
  registerCodecs();
  return new kafkajs.Kafka({ clientId: 'logagent-bench', brokers: BROKERS.split(','), logCreator: () => () => undefined });
}

async function createTopic(admin: Admin, topic: string): Promise<void> {
  const ok = await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
  if (!ok) throw new Error(`topic ${topic} already exists`);
}

async function highWatermarks(admin: Admin, topic: string): Promise<number[]> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.sort((a, b) => a.partition - b.partition).map((o) => Number(o.high));
}

/**
 * Polls the sum of the topic's high watermarks every POLL_MS until it reaches
 * N (with acks=all the high watermark only covers acknowledged records).
 * Times are ms since t0.
 */
async function watchOffsets(
  admin: Admin,
  topic: string,
  t0: number,
  stop: { aborted: boolean },
  onAllAcked?: () => void,
): Promise<{ firstAckMs: number | undefined; allAckedMs?: number; polls: number }> {
  let firstAckMs: number | undefined;
  let polls = 0;
  while (!stop.aborted) {
    const sum = (await highWatermarks(admin, topic)).reduce((a, b) => a + b, 0);
    polls++;
    const t = now() - t0;
    if (sum > 0 && firstAckMs === undefined) firstAckMs = t;
    if (sum >= N) {
      onAllAcked?.();
      return { firstAckMs, allAckedMs: t, polls };
    }
    if (t > TIMEOUT_MS) break;
    await sleep(POLL_MS);
  }
  return { firstAckMs, polls };
}

interface Verification {
  received: number;
  unique: number;
  missing: number;
  duplicates: number;
  malformed: number;
  perPartition: number[];
}

/** Reads the whole topic with kcat and counts every numbered line. */
async function verify(admin: Admin, topic: string): Promise<Verification> {
  const perPartition = await highWatermarks(admin, topic);
  const counts = new Uint8Array(N);
  let received = 0;
  let malformed = 0;
  const proc = spawn('kcat', ['-C', '-b', BROKERS, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\n'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('close', (code) => r(code)));
  for await (const line of createInterface({ input: proc.stdout, crlfDelay: Infinity })) {
    received++;
    const space = line.indexOf(' ');
    const n = Number(space < 0 ? line : line.slice(0, space));
    if (!Number.isInteger(n) || n < 0 || n >= N) {
      malformed++;
      continue;
    }
    if (counts[n] !== 255) counts[n] = (counts[n] ?? 0) + 1;
  }
  const code = await exited;
  if (code !== 0) throw new Error(`kcat consumer exited ${code}: ${stderr}`);
  let unique = 0;
  for (const c of counts) if (c > 0) unique++;
  return { received, unique, missing: N - unique, duplicates: received - malformed - unique, malformed, perPartition };
}

// ------------------------------------------------------------------ runs

interface RunResult {
  name: string;
  topic: string;
  loadavgBefore: number[];
  wallS: number;
  firstAckS: number | undefined;
  allAckedS: number | undefined;
  exitS: number | undefined;
  cpuUserS: number;
  cpuSysS: number;
  peakRssMiB: number;
  rssNote: string;
  cpuNote: string;
  brokerCpuS: number | undefined;
  /** Broker CPU seconds by thread name over the interval. */
  brokerThreads: string;
  machineBusyPct: number;
  /** CPU seconds used on the machine during the interval by everything but the client, the broker and this script. */
  otherCpuS: number | undefined;
  exitCode: number | string | null;
  whole?: GnuTime;
  extra: Record<string, unknown>;
  verification?: Verification;
}

type Jiffies = ReturnType<typeof machineJiffies>;

function otherCpu(m0: Jiffies, m1: Jiffies, clientS: number, b0: ProcCpu | undefined, b1: ProcCpu | undefined): number | undefined {
  if (!b0 || !b1) return undefined;
  const machineS = (m1.busy - m0.busy) / CLK_TCK;
  return machineS - clientS - (b1.user + b1.sys - b0.user - b0.sys) - (m1.benchS - m0.benchS);
}

function exitOf(proc: ChildProcess): Promise<number | string | null> {
  return new Promise((r) => proc.on('exit', (code, sig) => r(code ?? sig)));
}

async function runAgent(admin: Admin, topic: string, file: string, dir: string): Promise<RunResult> {
  const checkpointDir = join(dir, 'checkpoints');
  const profDir = join(dir, 'cpu-prof');
  const timeFile = join(dir, 'agent.time');
  const logFile = join(dir, 'agent.log');
  // The agent runs as its bin (dist/cli.js, whose shebang carries the V8
  // flags it ships with); profiling flags travel in NODE_OPTIONS.
  const nodeOptions = opts['cpu-prof'] ? `--cpu-prof --cpu-prof-dir=${profDir}` : '';
  const loadavgBefore = loadavg();
  const broker = brokerPid();
  const brokerCpu0 = broker === undefined ? undefined : procCpu(broker);
  const brokerThreads0 = threadCpu(broker);
  const m0 = machineJiffies();
  const t0 = now();
  const wrapper = spawn(GNU_TIME, ['-v', '-o', timeFile, CLI, 'run'], {
    env: {
      PATH: process.env.PATH ?? '',
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
      KAFKA_BROKERS: BROKERS,
      LOGAGENT_TOPIC: topic,
      LOGAGENT_PATHS: file,
      LOGAGENT_START_AT: 'beginning',
      KAFKA_ACKS: 'all',
      KAFKA_COMPRESSION: COMPRESSION,
      LOGAGENT_HTTP_PORT: '0',
      LOGAGENT_CHECKPOINT_DIR: checkpointDir,
      ...AGENT_ENV,
    },
    stdio: ['ignore', 'ignore', openSync(logFile, 'w')],
  });
  const wrapperExit = exitOf(wrapper);
  const pid = await childPid(wrapper.pid as number);

  let maxRssKiB = 0;
  let samples = 0;
  const rssSeriesMiB: number[] = [];
  const sampler = setInterval(() => {
    const m = procMem(pid);
    if (m && m.rssKiB > maxRssKiB) maxRssKiB = m.rssKiB;
    if (m && samples++ % 10 === 0) rssSeriesMiB.push(Math.round(m.rssKiB / 1024));
  }, 100);

  const stop = { aborted: false };
  let finalCpu: ProcCpu | undefined;
  let finalMem: { rssKiB: number; hwmKiB: number } | undefined;
  let brokerCpu1: ProcCpu | undefined;
  let brokerThreads1 = brokerThreads0;
  let m1 = m0;
  void wrapperExit.then(() => (stop.aborted = true));
  const watched = await watchOffsets(admin, topic, t0, stop, () => {
    // Sampled the moment the last ack is seen, before SIGTERM.
    finalCpu = procCpu(pid);
    finalMem = procMem(pid);
    brokerCpu1 = broker === undefined ? undefined : procCpu(broker);
    brokerThreads1 = threadCpu(broker);
    m1 = machineJiffies();
  });
  clearInterval(sampler);
  if (watched.allAckedMs === undefined) log(`agent: timed out or exited before all ${N} lines were acknowledged`);

  const tTerm = now();
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
  const exitCode = await wrapperExit;
  const exitS = (now() - tTerm) / 1000;
  const whole = existsSync(timeFile) ? parseGnuTime(timeFile) : undefined;
  const agentLog = readFileSync(logFile, 'utf8');
  const stopped = agentLog
    .split('\n')
    .filter((l) => l.includes('"logagent stopped"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)[0];
  const errors = agentLog.split('\n').filter((l) => /"level":(50|60)/.test(l)).length;

  if (finalMem && finalMem.rssKiB > maxRssKiB) maxRssKiB = finalMem.rssKiB;
  const allAckedS = watched.allAckedMs === undefined ? undefined : watched.allAckedMs / 1000;
  return {
    name: 'logagent',
    topic,
    loadavgBefore,
    wallS: allAckedS ?? NaN,
    firstAckS: watched.firstAckMs === undefined ? undefined : watched.firstAckMs / 1000,
    allAckedS,
    exitS,
    cpuUserS: finalCpu?.user ?? NaN,
    cpuSysS: finalCpu?.sys ?? NaN,
    peakRssMiB: (finalMem?.hwmKiB ?? maxRssKiB) / 1024,
    rssNote: `VmHWM at last ack (VmRSS max of 100 ms samples: ${(maxRssKiB / 1024).toFixed(1)} MiB)`,
    cpuNote: '/proc/<pid>/stat utime+stime at last ack, before SIGTERM',
    brokerCpuS: brokerCpu0 && brokerCpu1 ? brokerCpu1.user + brokerCpu1.sys - brokerCpu0.user - brokerCpu0.sys : undefined,
    brokerThreads: threadDelta(brokerThreads0, brokerThreads1),
    machineBusyPct: (100 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total),
    otherCpuS: otherCpu(m0, m1, (finalCpu?.user ?? NaN) + (finalCpu?.sys ?? NaN), brokerCpu0, brokerCpu1),
    exitCode,
    ...(whole ? { whole } : {}),
    extra: {
      offsetPolls: watched.polls,
      rssSeriesMiB,
      shutdown: stopped
        ? { clean: stopped.clean, unacknowledged: stopped.unacknowledged, tookMs: stopped.tookMs }
        : 'no "logagent stopped" record',
      errorLogLines: errors,
      log: logFile,
      ...(opts['cpu-prof'] ? { cpuProfileDir: profDir } : {}),
    },
  };
}

const KCAT_SETTINGS = ['-X', 'acks=all', '-z', KCAT_CODEC[COMPRESSION] as string];

async function runKcat(admin: Admin, topic: string, file: string, dir: string): Promise<RunResult> {
  const timeFile = join(dir, 'kcat.time');
  const loadavgBefore = loadavg();
  const broker = brokerPid();
  const brokerCpu0 = broker === undefined ? undefined : procCpu(broker);
  const brokerThreads0 = threadCpu(broker);
  const m0 = machineJiffies();
  const t0 = now();
  const wrapper = spawn(GNU_TIME, ['-v', '-o', timeFile, 'kcat', '-P', '-b', BROKERS, '-t', topic, ...KCAT_SETTINGS, '-l', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  wrapper.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const stop = { aborted: false };
  const exit = exitOf(wrapper).then((code) => ({ code, at: now() }));
  const watching = watchOffsets(admin, topic, t0, stop);
  const timer = setTimeout(() => wrapper.kill('SIGKILL'), TIMEOUT_MS);
  const { code, at } = await exit;
  clearTimeout(timer);
  const brokerCpu1 = broker === undefined ? undefined : procCpu(broker);
  const brokerThreads1 = threadCpu(broker);
  const m1 = machineJiffies();
  // kcat exits once every delivery report arrived; give the poller a moment to see the final offsets.
  const wait = setTimeout(() => (stop.aborted = true), 5_000);
  const watched = await watching;
  clearTimeout(wait);
  if (code !== 0) log(`kcat exited ${code}: ${stderr.slice(0, 2000)}`);
  const whole = parseGnuTime(timeFile);
  return {
    name: 'kcat',
    topic,
    loadavgBefore,
    wallS: (at - t0) / 1000,
    firstAckS: watched.firstAckMs === undefined ? undefined : watched.firstAckMs / 1000,
    allAckedS: watched.allAckedMs === undefined ? undefined : watched.allAckedMs / 1000,
    exitS: undefined,
    cpuUserS: whole.userS,
    cpuSysS: whole.sysS,
    peakRssMiB: whole.maxRssKiB / 1024,
    rssNote: 'GNU time -v max RSS (getrusage ru_maxrss)',
    cpuNote: 'GNU time -v user+sys of the whole kcat process (wait4 rusage)',
    brokerCpuS: brokerCpu0 && brokerCpu1 ? brokerCpu1.user + brokerCpu1.sys - brokerCpu0.user - brokerCpu0.sys : undefined,
    brokerThreads: threadDelta(brokerThreads0, brokerThreads1),
    machineBusyPct: (100 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total),
    otherCpuS: otherCpu(m0, m1, whole.userS + whole.sysS, brokerCpu0, brokerCpu1),
    exitCode: code,
    whole,
    extra: { offsetPolls: watched.polls, stderr: stderr.trim().slice(0, 500) },
  };
}

// ------------------------------------------------------------------ cpu profile

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

function summariseProfile(dir: string, top = 25): string[] {
  if (!existsSync(dir)) return ['no CPU profile written (did the agent exit cleanly?)'];
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return ['no .cpuprofile in ' + dir];
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const frameKey = (n: ProfileNode): string => {
    const { functionName, url, lineNumber } = n.callFrame;
    const short = url.replace(/^file:\/\//, '').replace(ROOT + '/', '');
    return `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim();
  };
  const inclusive = new Map<string, number>();
  const self = new Map<string, number>();
  const byArea = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    const { functionName, url } = node.callFrame;
    const short = url.replace(/^file:\/\//, '').replace(ROOT + '/', '');
    const key = frameKey(node);
    self.set(key, (self.get(key) ?? 0) + dt);
    const onStack = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur);
      if (!frame) break;
      const k = frameKey(frame);
      if (onStack.has(k)) continue;
      onStack.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
    const area =
      functionName === '(idle)'
        ? '(idle)'
        : /^\((program|garbage collector)\)$/.test(functionName)
          ? functionName
          : short.includes('node_modules/kafkajs')
            ? 'kafkajs'
            : short.includes('node_modules/')
              ? 'other node_modules'
              : short.startsWith('dist/')
                ? 'logagent (dist/)'
                : short.startsWith('node:')
                  ? 'node: internals'
                  : 'native/other';
    byArea.set(area, (byArea.get(area) ?? 0) + dt);
    total += dt;
  });
  const pct = (v: number) => ((100 * v) / total).toFixed(1).padStart(5) + '%';
  const out = [`profile ${join(dir, file)}: ${(total / 1e6).toFixed(2)} s sampled`];
  out.push('self time by area:');
  for (const [k, v] of [...byArea].sort((a, b) => b[1] - a[1])) out.push(`  ${pct(v)}  ${k}`);
  out.push(`top ${top} functions by self time:`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`  ${pct(v)}  ${k}`);
  out.push(`top ${top} JavaScript functions by total time (self + callees):`);
  const js = [...inclusive].filter(([k]) => /(node_modules|dist)\//.test(k)).sort((a, b) => b[1] - a[1]);
  for (const [k, v] of js.slice(0, top)) out.push(`  ${pct(v)}  ${k}`);
  return out;
}

// ------------------------------------------------------------------ report

function table(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ')).join('\n');
}

const f = (v: number | undefined, digits = 2) => (v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(digits));

async function main(): Promise<void> {
  if (!existsSync(CLI)) fail(`${CLI} is missing: run npm run build first`);
  if (!existsSync(GNU_TIME)) fail(`${GNU_TIME} is missing (Debian package "time")`);
  const dir = mkdtempSync(join(tmpdir(), 'logagent-bench-'));
  const file = join(dir, 'input.log');
  const tag = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const agentTopic = `bench-agent-${tag}`;
  const kcatTopic = `bench-kcat-${tag}`;

  const facts: string[] = [];
  const kcatVersion =
    execFileSync('kcat', ['-V'], { encoding: 'utf8' })
      .split('\n')
      .find((l) => l.startsWith('Version')) ?? 'unknown';
  const cpu = cpus()[0]?.model ?? 'unknown';
  facts.push(
    `node ${process.version}, ${availableParallelism()} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}`,
  );
  facts.push(`kcat ${kcatVersion}`);
  facts.push(`logagent: ${buildFacts()}`);
  facts.push(`brokers ${BROKERS}; topics ${PARTITIONS} partitions, replication factor 1; compression ${COMPRESSION}`);
  facts.push(...brokerFacts(brokerPid()));
  const kcatDump = execFileSync('kcat', ['-b', BROKERS, '-P', '-t', kcatTopic, ...KCAT_SETTINGS, '-X', 'dump'], { encoding: 'utf8' });
  const kcatKeys =
    /^(queue\.buffering\.max\.ms|linger\.ms|batch\.num\.messages|batch\.size|request\.required\.acks|partitioner|sticky\.partitioning\.linger\.ms|max\.in\.flight\.requests\.per\.connection|enable\.idempotence|compression\.codec|queue\.buffering\.max\.(messages|kbytes)) = /;
  facts.push(
    `kcat producer settings (only -X acks=all -z ${KCAT_CODEC[COMPRESSION]} given; the rest are librdkafka defaults): ` +
      [...new Set(kcatDump.split('\n').filter((l) => kcatKeys.test(l) && !l.endsWith('inherit')))].join(', '),
  );
  facts.push(
    'logagent settings: defaults (KAFKA_BATCH_MAX_BYTES=1 MiB, KAFKA_LINGER_MS=5, LOGAGENT_INFLIGHT_MAX_BYTES=16 MiB, hash partitioner) except the env listed in bench/README.md' +
      (Object.keys(AGENT_ENV).length
        ? `; EXTRA agent env: ${Object.entries(AGENT_ENV)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`
        : ''),
  );
  log(`machine, broker and client facts collected (printed with the results)`);

  log(`generating ${N} lines of ${LINE_BYTES} bytes (+ newline) in ${file}`);
  const genT0 = now();
  const fileBytes = await generateFile(file);
  log(`generated ${(fileBytes / 1e6).toFixed(1)} MB in ${((now() - genT0) / 1000).toFixed(1)} s`);
  const payloadBytes = N * LINE_BYTES;

  const admin = kafkaClient().admin();
  await admin.connect();
  const results: RunResult[] = [];
  let profileSummary: string[] = [];
  try {
    await createTopic(admin, agentTopic);
    await createTopic(admin, kcatTopic);
    log(`topics ${agentTopic} and ${kcatTopic} created`);

    log(
      `load average before logagent: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    const agent = await runAgent(admin, agentTopic, file, dir);
    log(`logagent: all acked at ${f(agent.allAckedS, 3)} s, exited ${agent.exitCode} ${f(agent.exitS)} s after SIGTERM`);
    agent.verification = await verify(admin, agentTopic);
    results.push(agent);
    if (opts['cpu-prof']) profileSummary = summariseProfile(join(dir, 'cpu-prof'));

    await sleep(2_000);
    log(
      `load average before kcat: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    const kcat = await runKcat(admin, kcatTopic, file, dir);
    log(`kcat: exited ${kcat.exitCode} at ${f(kcat.wallS, 3)} s (all acked seen at ${f(kcat.allAckedS, 3)} s)`);
    kcat.verification = await verify(admin, kcatTopic);
    results.push(kcat);
  } finally {
    if (!opts.keep) {
      await admin.deleteTopics({ topics: [agentTopic, kcatTopic] }).catch((err: unknown) => log(`delete topics: ${String(err)}`));
    }
    await admin.disconnect();
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir} and the topics`);
  }

  const rows: string[][] = [
    [
      '',
      'wall s',
      'lines/s',
      'MB/s',
      'CPU s (u+s)',
      'user',
      'sys',
      'peak RSS MiB',
      'first ack s',
      'lines/s after 1st ack',
      'broker CPU s',
      'machine busy',
      'other procs CPU s',
      'load before',
    ],
  ];
  for (const r of results) {
    const cpuS = r.cpuUserS + r.cpuSysS;
    rows.push([
      r.name,
      f(r.wallS, 3),
      f(N / r.wallS, 0),
      f(payloadBytes / 1e6 / r.wallS, 1),
      f(cpuS),
      f(r.cpuUserS),
      f(r.cpuSysS),
      f(r.peakRssMiB, 1),
      f(r.firstAckS, 3),
      f(r.firstAckS === undefined ? undefined : N / (r.wallS - r.firstAckS), 0),
      f(r.brokerCpuS),
      `${f(r.machineBusyPct, 0)}%`,
      f(r.otherCpuS),
      (r.loadavgBefore[0] ?? 0).toFixed(2),
    ]);
  }
  const [agent, kcat] = results;
  const verifyRows: string[][] = [['', 'expected', 'received', 'unique', 'missing', 'duplicates', 'malformed', 'per partition', 'result']];
  for (const r of results) {
    const v = r.verification;
    if (!v) continue;
    const ok = v.received === N && v.unique === N && v.malformed === 0;
    verifyRows.push([
      r.name,
      String(N),
      String(v.received),
      String(v.unique),
      String(v.missing),
      String(v.duplicates),
      String(v.malformed),
      v.perPartition.join('/'),
      ok ? 'OK' : 'FAIL',
    ]);
  }

  const out: string[] = [];
  out.push('');
  out.push(
    `== logagent vs kcat: ${N} lines x ${LINE_BYTES} B (${(payloadBytes / 1e6).toFixed(1)} MB payload, file ${(fileBytes / 1e6).toFixed(1)} MB), acks=all, ${PARTITIONS} partitions, compression ${COMPRESSION}`,
  );
  for (const l of facts) out.push(`  ${l}`);
  out.push('');
  out.push(table(rows));
  out.push('');
  if (agent && kcat) {
    out.push(
      `throughput ratio logagent/kcat: ${f(kcat.wallS / agent.wallS, 3)}  (CPU ratio logagent/kcat: ${f((agent.cpuUserS + agent.cpuSysS) / (kcat.cpuUserS + kcat.cpuSysS), 2)})`,
    );
    out.push(
      `logagent wall = spawn -> topic high watermarks sum to ${N} (polled every ${POLL_MS} ms); kcat wall = spawn -> exit (it waits for all delivery reports); kcat all-acked seen by the same poller at ${f(kcat.allAckedS, 3)} s`,
    );
    out.push(
      `logagent CPU/RSS: ${agent.cpuNote}; ${agent.rssNote}. Whole agent process incl. shutdown (GNU time): ${f((agent.whole?.userS ?? NaN) + (agent.whole?.sysS ?? NaN))} CPU s, max RSS ${f((agent.whole?.maxRssKiB ?? NaN) / 1024, 1)} MiB, exit ${String(agent.exitCode)} ${f(agent.exitS)} s after SIGTERM, ${JSON.stringify(agent.extra.shutdown)}, error log lines: ${String(agent.extra.errorLogLines)}`,
    );
    out.push(`logagent RSS MiB, one sample per second: ${(agent.extra.rssSeriesMiB as number[]).join(' ')}`);
    out.push(`kcat CPU/RSS: ${kcat.cpuNote}; ${kcat.rssNote}`);
    for (const r of results) out.push(`broker CPU s by thread during ${r.name}: ${r.brokerThreads}`);
    out.push(
      'broker CPU s = utime+stime of the broker JVM over the same interval; machine busy = all cores, from /proc/stat, same interval; other procs CPU s = machine busy CPU s minus the client, the broker and this script (other jobs on the machine, kernel)',
    );
  }
  out.push('');
  out.push(table(verifyRows));
  if (profileSummary.length) {
    out.push('');
    out.push('logagent CPU profile (node --cpu-prof; the figures above include profiler overhead):');
    out.push(...profileSummary.map((l) => `  ${l}`));
  }
  process.stdout.write(out.join('\n') + '\n');

  if (opts.json) {
    writeFileSync(
      opts.json,
      JSON.stringify(
        {
          lines: N,
          lineBytes: LINE_BYTES,
          partitions: PARTITIONS,
          compression: COMPRESSION,
          brokers: BROKERS,
          facts,
          results,
          profileSummary,
        },
        null,
        2,
      ),
    );
  }
  const allOk = results.length === 2 && verifyRows.slice(1).every((r) => r[8] === 'OK');
  process.exitCode = allOk ? 0 : 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

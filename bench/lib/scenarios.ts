// The three measurements of bench/compare.ts, each run contender by
// contender on the same broker, topic settings and files:
//
// - throughput: complete files, shipped from their start; wall time from
//   spawn to the poll that sees every line acknowledged (end offsets), CPU
//   and RSS of the contender's process tree at that moment, then a consumer
//   counts every line back.
// - latency: a writer process appends at a steady rate; write-to-append
//   latency per line (broker LogAppendTime minus the write time in the line),
//   CPU and RSS over the writing window.
// - idle: start to first acknowledged line (each contender started alone),
//   then CPU, wake-ups and RSS over N quiet minutes with 10 watched files (all
//   contenders idle at the same time: they are idle, and N minutes each would
//   multiply the run's length).

import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Compression, Contender, RunInput, Running } from '../contenders/types.ts';
import { type Broker, watchDelivery } from './broker.ts';
import type { Corpus } from './corpus.ts';
import { summariseProfile } from './profile.ts';
import { gnuTime, loadAvg, machineJiffies, procStat, TreeSampler, treeStat } from './proc.ts';
import { fmt, log, ROOT, sleep } from './util.ts';
import { type LatencyStats, type Verification, verifyTopic, WARMUP_PREFIX } from './verify.ts';

export const PARTITIONS = 3;

export interface Context {
  broker: Broker;
  runDir: string;
  tag: string;
  timeoutS: number;
}

function workDirOf(ctx: Context, scenario: string, contender: Contender): string {
  const dir = join(ctx.runDir, 'runs', `${scenario}-${contender.name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

function topicOf(ctx: Context, scenario: string, contender: Contender): string {
  return `cmp-${ctx.tag}-${scenario}-${contender.name}`.replace(/[^A-Za-z0-9._-]/g, '_');
}

function input(
  ctx: Context,
  files: string[],
  dir: string,
  glob: string,
  topic: string,
  compression: Compression,
  workDir: string,
): RunInput {
  return { files, dir, glob, topic, brokers: ctx.broker.bootstrap, compression, workDir };
}

export interface ThroughputResult {
  contender: string;
  corpus: string;
  compression: Compression;
  skipped?: string;
  lines: number;
  payloadBytes: number;
  wallS?: number;
  firstAckS?: number;
  linesPerS?: number;
  mbPerS?: number;
  cpuS?: number;
  cpuUsPerLine?: number;
  peakRssMiB?: number;
  brokerCpuS?: number;
  machineBusyPct?: number;
  loadBefore: string;
  loadAfter: string;
  exit?: string;
  verification?: Verification;
  note?: string;
}

export async function throughput(ctx: Context, contender: Contender, corpus: Corpus, compression: Compression): Promise<ThroughputResult> {
  const base = { contender: contender.name, corpus: corpus.kind, compression, lines: corpus.lines, payloadBytes: corpus.payloadBytes };
  if (corpus.files.length > 1 && !contender.manyFiles) {
    return { ...base, skipped: contender.limits, loadBefore: loadAvg(), loadAfter: loadAvg() };
  }
  const scenario = `tp-${corpus.kind}-${compression}`;
  const topic = topicOf(ctx, scenario, contender);
  const workDir = workDirOf(ctx, scenario, contender);
  await ctx.broker.createTopic(topic, PARTITIONS);
  const loadBefore = loadAvg();
  const brokerPid = ctx.broker.pid();
  const broker0 = brokerPid === undefined ? undefined : procStat(brokerPid);
  const m0 = machineJiffies();
  const t0 = performance.now();
  const running = contender.start(input(ctx, corpus.files, corpus.dir, corpus.glob, topic, compression, workDir));
  const sampler = new TreeSampler(running.pid, 100);
  let exitedAt: number | undefined;
  void running.exited.then(() => (exitedAt = performance.now()));
  let atAll: { cpuS: number; brokerCpuS: number | undefined; busy: number; total: number } | undefined;
  const watch = await watchDelivery(ctx.broker, topic, corpus.lines, {
    timeoutMs: ctx.timeoutS * 1000,
    // A contender that exits by itself (kcat) gets 10 s more for the last offsets to show.
    until: () => exitedAt !== undefined && performance.now() - exitedAt > 10_000,
    onAll: () => {
      const s = sampler.sample();
      const b = brokerPid === undefined ? undefined : procStat(brokerPid);
      const m = machineJiffies();
      atAll = {
        cpuS: s.cpuS,
        brokerCpuS: b && broker0 ? b.cpuS - broker0.cpuS : undefined,
        busy: m.busy - m0.busy,
        total: m.total - m0.total,
      };
    },
  });
  sampler.stop();
  await running.stop();
  const exit = String(await running.exited);
  const loadAfter = loadAvg();
  const gt = running.gnuTimeFile ? gnuTime(running.gnuTimeFile) : undefined;
  const perPartition = await ctx.broker.endOffsets(topic);
  const { verification } = await verifyTopic(ctx.broker.bootstrap, topic, corpus.lines, perPartition);
  await ctx.broker.deleteTopic(topic);
  const wallS = watch.allAt === undefined ? undefined : (watch.allAt - t0) / 1000;
  const cpuS = gt ? gt.cpuS : atAll?.cpuS;
  const result: ThroughputResult = {
    ...base,
    ...(wallS !== undefined ? { wallS, linesPerS: corpus.lines / wallS, mbPerS: corpus.payloadBytes / 1e6 / wallS } : {}),
    ...(watch.firstAt !== undefined ? { firstAckS: (watch.firstAt - t0) / 1000 } : {}),
    ...(cpuS !== undefined && wallS !== undefined ? { cpuS, cpuUsPerLine: (cpuS * 1e6) / corpus.lines } : {}),
    peakRssMiB: gt ? gt.maxRssMiB : sampler.peakRssMiB(),
    ...(atAll?.brokerCpuS !== undefined ? { brokerCpuS: atAll.brokerCpuS } : {}),
    ...(atAll ? { machineBusyPct: (100 * atAll.busy) / Math.max(1, atAll.total) } : {}),
    loadBefore,
    loadAfter,
    exit,
    verification,
    ...(gt ? { note: 'CPU and peak RSS of the whole run (GNU time)' } : {}),
    ...(wallS === undefined ? { note: `not all lines acknowledged within ${ctx.timeoutS} s (${watch.count} seen)` } : {}),
  };
  const profDir = join(workDir, 'cpu-prof');
  if (existsSync(profDir)) log(`${contender.name} ${scenario} CPU profile:\n${summariseProfile(profDir).join('\n')}`);
  log(
    `${contender.name} ${scenario}: wall ${fmt(wallS, 3)} s, CPU ${fmt(cpuS)} s, peak RSS ${fmt(result.peakRssMiB, 1)} MiB, ` +
      `verified ${verification.unique}/${corpus.lines} unique, ${verification.missing} missing, ${verification.duplicates} dup; load ${loadBefore} -> ${loadAfter}`,
  );
  return result;
}

export interface LatencyResult {
  contender: string;
  ratePerS: number;
  durationS: number;
  skipped?: string;
  written?: number;
  writerRatePerS?: number;
  keptUp?: boolean;
  drainS?: number;
  latency?: LatencyStats;
  cpuPctOfCore?: number;
  rssMiB?: number;
  peakRssMiB?: number;
  loadBefore: string;
  loadAfter: string;
  verification?: Verification;
}

/** Starts a contender on `files` (which hold one warm-up line each) and waits until those lines are acknowledged. */
async function startWarm(
  ctx: Context,
  contender: Contender,
  files: string[],
  dir: string,
  topic: string,
  workDir: string,
): Promise<{ running: Running; t0: number; firstAckS?: number; allAckS?: number }> {
  const t0 = performance.now();
  const running = contender.start(input(ctx, files, dir, join(dir, '*.log'), topic, 'none', workDir));
  const watch = await watchDelivery(ctx.broker, topic, files.length, { everyMs: 10, timeoutMs: 60_000 });
  return {
    running,
    t0,
    ...(watch.firstAt !== undefined ? { firstAckS: (watch.firstAt - t0) / 1000 } : {}),
    ...(watch.allAt !== undefined ? { allAckS: (watch.allAt - t0) / 1000 } : {}),
  };
}

export async function latency(
  ctx: Context,
  contender: Contender,
  ratePerS: number,
  durationS: number,
  lineBytes: number,
): Promise<LatencyResult> {
  const base = { contender: contender.name, ratePerS, durationS };
  if (!contender.tails) return { ...base, skipped: contender.limits, loadBefore: loadAvg(), loadAfter: loadAvg() };
  const scenario = `lat-${ratePerS}`;
  const topic = topicOf(ctx, scenario, contender);
  const workDir = workDirOf(ctx, scenario, contender);
  const dir = join(workDir, 'files');
  mkdirSync(dir);
  const file = join(dir, 'app.log');
  writeFileSync(file, `${WARMUP_PREFIX}line\n`);
  await ctx.broker.createTopic(topic, PARTITIONS);
  const loadBefore = loadAvg();
  const { running, allAckS } = await startWarm(ctx, contender, [file], dir, topic, workDir);
  if (allAckS === undefined) log(`${contender.name}: warm-up line not acknowledged within 60 s`);
  await sleep(1_000);
  const sampler = new TreeSampler(running.pid, 100);
  sampler.maxRssKiB = 0;
  const cpu0 = sampler.sample().cpuS;
  const w0 = performance.now();
  const writer = spawn(
    process.execPath,
    [join(ROOT, 'bench', 'lib', 'writer.ts'), file, String(ratePerS), String(durationS), String(lineBytes)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  writer.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((r) => writer.on('exit', () => r()));
  const w1 = performance.now();
  const cpu1 = sampler.sample().cpuS;
  const rssMiB = sampler.last.rssKiB / 1024;
  const stats = JSON.parse(out.trim() || '{}') as { written?: number; ratePerS?: number };
  const written = stats.written ?? 0;
  // Kept up: everything written was acknowledged within 5 s after the writer stopped.
  const drain = await watchDelivery(ctx.broker, topic, written + 1, { everyMs: 20, timeoutMs: 5_000 });
  sampler.stop();
  const peakRssMiB = sampler.maxRssKiB / 1024;
  await running.stop();
  const loadAfter = loadAvg();
  const perPartition = await ctx.broker.endOffsets(topic);
  const { verification, latency: lat } = await verifyTopic(ctx.broker.bootstrap, topic, written, perPartition, { latency: true });
  await ctx.broker.deleteTopic(topic);
  // 60 s at 50,000 lines/s is 600 MB of input: keep configs and logs, not the file.
  rmSync(dir, { recursive: true, force: true });
  const keptUp = drain.allAt !== undefined && (stats.ratePerS ?? 0) >= 0.98 * ratePerS;
  const result: LatencyResult = {
    ...base,
    written,
    ...(stats.ratePerS !== undefined ? { writerRatePerS: stats.ratePerS } : {}),
    keptUp,
    ...(drain.allAt !== undefined ? { drainS: (drain.allAt - w1) / 1000 } : {}),
    ...(lat ? { latency: lat } : {}),
    cpuPctOfCore: (100 * (cpu1 - cpu0)) / ((w1 - w0) / 1000),
    rssMiB,
    peakRssMiB,
    loadBefore,
    loadAfter,
    verification,
  };
  log(
    `${contender.name} ${scenario}: ${written} written at ${fmt(stats.ratePerS, 0)}/s, kept up ${keptUp}, p50 ${fmt(lat?.p50Ms, 1)} ms, p99 ${fmt(lat?.p99Ms, 1)} ms, ` +
      `max ${fmt(lat?.maxMs, 1)} ms, CPU ${fmt(result.cpuPctOfCore, 1)}% of a core, RSS ${fmt(rssMiB, 1)} MiB; ${verification.missing} missing; load ${loadBefore} -> ${loadAfter}`,
  );
  return result;
}

export interface IdleResult {
  contender: string;
  files: number;
  skipped?: string;
  firstAckS?: number;
  allAckS?: number;
  idleS?: number;
  cpuPctOfCore?: number;
  wakeupsPerS?: number;
  rssMiB?: number;
  loadBefore: string;
  loadAfter: string;
  note?: string;
}

export async function idle(ctx: Context, contenders: Contender[], idleS: number, watchedFiles: number): Promise<IdleResult[]> {
  const started: Array<{ contender: Contender; running: Running; result: IdleResult; topic: string }> = [];
  const results: IdleResult[] = [];
  try {
    for (const contender of contenders) {
      if (!contender.tails) {
        results.push({ contender: contender.name, files: 0, skipped: contender.limits, loadBefore: loadAvg(), loadAfter: loadAvg() });
        continue;
      }
      const topic = topicOf(ctx, 'idle', contender);
      const workDir = workDirOf(ctx, 'idle', contender);
      const dir = join(workDir, 'files');
      mkdirSync(dir);
      const n = contender.manyFiles ? watchedFiles : 1;
      const files = Array.from({ length: n }, (_, i) => join(dir, `quiet-${String(i).padStart(2, '0')}.log`));
      for (const f of files) appendFileSync(f, `${WARMUP_PREFIX}${f}\n`);
      await ctx.broker.createTopic(topic, PARTITIONS);
      const loadBefore = loadAvg();
      const warm = await startWarm(ctx, contender, files, dir, topic, workDir);
      const result: IdleResult = {
        contender: contender.name,
        files: n,
        ...(warm.firstAckS !== undefined ? { firstAckS: warm.firstAckS } : {}),
        ...(warm.allAckS !== undefined ? { allAckS: warm.allAckS } : {}),
        loadBefore,
        loadAfter: '',
        ...(n < watchedFiles ? { note: 'follows one file' } : {}),
      };
      log(`${contender.name} idle: first ack ${fmt(warm.firstAckS, 3)} s, all ${n} files ${fmt(warm.allAckS, 3)} s after start`);
      started.push({ contender, running: warm.running, result, topic });
      results.push(result);
      // Let its start-up work settle before the next one starts.
      await sleep(2_000);
    }
    // Settle: start-up work (JIT, first metadata refreshes) is not idle.
    await sleep(5_000);
    const before = started.map((s) => treeStat(s.running.pid));
    const t0 = performance.now();
    log(`all started; measuring ${idleS} s of idle`);
    await sleep(idleS * 1000);
    const seconds = (performance.now() - t0) / 1000;
    started.forEach((s, i) => {
      const a = before[i];
      const b = treeStat(s.running.pid);
      if (!a || !a.pids.length || !b.pids.length) {
        s.result.note = `${s.result.note ? `${s.result.note}; ` : ''}process ended during the idle window`;
        return;
      }
      s.result.idleS = seconds;
      s.result.cpuPctOfCore = (100 * (b.cpuS - a.cpuS)) / seconds;
      s.result.wakeupsPerS = (b.wakeups - a.wakeups) / seconds;
      s.result.rssMiB = b.rssKiB / 1024;
      s.result.loadAfter = loadAvg();
      log(
        `${s.contender.name} idle: CPU ${fmt(s.result.cpuPctOfCore, 3)}% of a core, ${fmt(s.result.wakeupsPerS, 1)} wake-ups/s, RSS ${fmt(s.result.rssMiB, 1)} MiB`,
      );
    });
  } finally {
    for (const s of started) {
      await s.running.stop();
      await ctx.broker.deleteTopic(s.topic);
      rmSync(join(ctx.runDir, 'runs', `idle-${s.contender.name}`, 'files'), { recursive: true, force: true });
    }
  }
  return results;
}

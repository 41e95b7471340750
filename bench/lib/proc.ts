// Process and machine figures read from /proc, for bench/compare.ts. A
// contender is measured as a process tree (its pid and every descendant, so
// that `tail -F | kcat` counts both), sampled by the harness: no wrapper
// process is put in front of the contender.
//
// Knowingly not covered: CPU of a descendant that exited between two samples
// (the contenders here are long-running; kcat's one-shot run is measured by
// GNU time instead, see gnuTime()).

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export interface ProcStat {
  /** utime + stime, seconds. */
  cpuS: number;
  rssKiB: number;
  /** Peak RSS the kernel recorded (VmHWM). */
  hwmKiB: number;
  /** Voluntary + involuntary context switches of all threads: how often the process woke up. */
  wakeups: number;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The pid and all its live descendants. */
export function processTree(root: number): number[] {
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift() as number;
    if (!existsSync(`/proc/${pid}`)) continue;
    out.push(pid);
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      const kids = readText(`/proc/${pid}/task/${tid}/children`)?.trim();
      if (kids) for (const k of kids.split(/\s+/)) queue.push(Number(k));
    }
  }
  return out;
}

/** One process (all threads): CPU, RSS, peak RSS and context switches; undefined once it is gone. */
export function procStat(pid: number): ProcStat | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  const status = readText(`/proc/${pid}/status`);
  if (!stat || !status) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  // Thread group leader's status shows only its own switches; add every thread's.
  let wakeups = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const s = readText(`/proc/${pid}/task/${tid}/status`);
      if (!s) continue;
      wakeups += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0);
      wakeups += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0);
    }
  } catch {
    // exited meanwhile
  }
  return {
    cpuS: (Number(fields[11]) + Number(fields[12])) / CLK_TCK,
    rssKiB: kib('VmRSS'),
    hwmKiB: kib('VmHWM'),
    wakeups,
  };
}

/** The tree's figures summed over its live processes (peak RSS: the sum of each one's peak, an upper bound). */
export function treeStat(root: number): ProcStat & { pids: number[] } {
  const pids = processTree(root);
  const sum: ProcStat = { cpuS: 0, rssKiB: 0, hwmKiB: 0, wakeups: 0 };
  for (const pid of pids) {
    const s = procStat(pid);
    if (!s) continue;
    sum.cpuS += s.cpuS;
    sum.rssKiB += s.rssKiB;
    sum.hwmKiB += s.hwmKiB;
    sum.wakeups += s.wakeups;
  }
  return { ...sum, pids };
}

/**
 * Samples a process tree every `everyMs`: keeps the last reading (so a tree
 * that exits still has its final CPU) and the largest RSS seen.
 */
export class TreeSampler {
  last: ProcStat = { cpuS: 0, rssKiB: 0, hwmKiB: 0, wakeups: 0 };
  maxRssKiB = 0;
  readonly rssSeriesMiB: number[] = [];
  private samples = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly root: number;

  constructor(root: number, everyMs = 100) {
    this.root = root;
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  sample(): ProcStat {
    const s = treeStat(this.root);
    if (s.pids.length) {
      this.last = { cpuS: s.cpuS, rssKiB: s.rssKiB, hwmKiB: s.hwmKiB, wakeups: s.wakeups };
      if (s.rssKiB > this.maxRssKiB) this.maxRssKiB = s.rssKiB;
      if (this.samples++ % 10 === 0) this.rssSeriesMiB.push(Math.round(s.rssKiB / 1024));
    }
    return this.last;
  }

  /** Peak RSS in MiB: the kernel's VmHWM where it is known, else the largest sample. */
  peakRssMiB(): number {
    return Math.max(this.last.hwmKiB, this.maxRssKiB) / 1024;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export interface GnuTime {
  cpuS: number;
  maxRssMiB: number;
  exitStatus: number;
}

/** Parses `/usr/bin/time -v -o FILE` output (wait4 rusage of a process that exited by itself). */
export function gnuTime(path: string): GnuTime | undefined {
  const text = readText(path);
  if (!text) return undefined;
  const num = (label: string) => Number(new RegExp(`${label}[^:]*:\\s*([\\d.]+)`).exec(text)?.[1] ?? NaN);
  return {
    cpuS: num('User time') + num('System time'),
    maxRssMiB: num('Maximum resident set size') / 1024,
    exitStatus: num('Exit status'),
  };
}

/** Whole-machine busy and total jiffies (all cores), from /proc/stat. */
export function machineJiffies(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

/** /proc/loadavg's three averages, as printed there. */
export function loadAvg(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

/** Sends a signal to a pid, ignoring a process that is already gone. */
export function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** Waits until the pid is gone; SIGKILL after `graceMs`. Returns whether it ended on its own. */
export async function waitGone(pid: number, graceMs: number): Promise<boolean> {
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  signalPid(pid, 'SIGKILL');
  while (isAlive(pid)) await new Promise((r) => setTimeout(r, 20));
  return false;
}

/** Alive and not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return false;
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

// What a contender of bench/compare.ts is: a shipper that reads log files and
// produces every line to Kafka with acks=all. The harness owns the broker,
// the topics, the files and the measuring; a contender only knows how to
// install itself (idempotent, cached), how to start on given files and a
// topic, and how to stop.

import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { signalPid, processTree, waitGone } from '../lib/proc.ts';

export type Compression = 'none' | 'lz4';

export interface RunInput {
  /** Files to ship, all in `dir`. */
  files: string[];
  dir: string;
  /** A glob matching exactly `files`. */
  glob: string;
  topic: string;
  brokers: string;
  compression: Compression;
  /** Fresh directory of this run: config, state, pid and log files of the contender. */
  workDir: string;
}

export interface Running {
  /** Root of the contender's process tree (measured with its descendants). */
  pid: number;
  /** Resolves with the exit code or signal once the root process exited. */
  exited: Promise<number | string | null>;
  /** SIGTERM to every process of the tree, then SIGKILL after the grace period. */
  stop(graceMs?: number): Promise<void>;
  /** Combined stdout and stderr of the contender. */
  logFile: string;
  /** For contenders that exit by themselves: the GNU time -v report (CPU, max RSS of the whole run). */
  gnuTimeFile?: string;
}

export interface Contender {
  /** Short id used on the command line (--only) and in topic names. */
  name: string;
  /** Name in tables and charts. */
  title: string;
  /** Follows growing files (needed for the latency and idle scenarios). */
  tails: boolean;
  /** Ships many files (a glob or a list) at once. */
  manyFiles: boolean;
  /** Why it skips what it cannot do, for the report. */
  limits: string;
  /** Installs or builds what it needs (idempotent, cached); returns its version. */
  prepare(): Promise<string>;
  /** The settings it runs with, written into the report. */
  settings(compression: Compression): string[];
  start(input: RunInput): Running;
}

/** Spawns a contender's process with its output in workDir/<name>.log; stop() ends its whole tree by pid. */
/** Root pids of contenders still running, so that an interrupted bench can end them (see compare.ts). */
export const liveContenders = new Set<number>();

export function spawnContender(
  name: string,
  command: string,
  args: string[],
  options: { workDir: string; env?: NodeJS.ProcessEnv; gnuTimeFile?: string },
): Running {
  const logFile = `${options.workDir}/${name}.log`;
  const out = openSync(logFile, 'a');
  const proc = spawn(command, args, { env: options.env ?? process.env, stdio: ['ignore', out, out] });
  if (proc.pid === undefined) throw new Error(`could not start ${command}`);
  const pid = proc.pid;
  liveContenders.add(pid);
  const exited = new Promise<number | string | null>((r) =>
    proc.on('exit', (code, sig) => {
      liveContenders.delete(pid);
      r(code ?? sig);
    }),
  );
  proc.on('error', () => undefined);
  return {
    pid,
    exited,
    logFile,
    ...(options.gnuTimeFile ? { gnuTimeFile: options.gnuTimeFile } : {}),
    stop: async (graceMs = 30_000) => {
      // Children first would let the parent restart them; the contenders here
      // do not, so the whole tree gets SIGTERM at once.
      const pids = processTree(pid);
      for (const p of pids) signalPid(p, 'SIGTERM');
      await Promise.all(pids.map((p) => waitGone(p, graceMs)));
      await exited;
    },
  };
}

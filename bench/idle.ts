// What an idle sidecar costs: the agent ships N quiet files (10 lines each),
// then sits idle; over the idle window it prints CPU (seconds and % of a
// core, from /proc/<pid>/stat), RSS (start and end of the window, peak) and
// open descriptors (start and end: quiet files are closed after
// LOGAGENT_CLOSE_INACTIVE_MS). A benchmark that prints figures, not a test.
//
//   node bench/idle.ts [--files 10,2000] [--idle-s 300] [--cli dist/cli.js] [--env K=V ...]
//
// --cli runs another build (e.g. an older commit checked out with `git
// worktree add` and built) for before/after figures. Starts its own one-node
// Kafka (KAFKA_LOCAL_DIR=.run/kafka-idle, port 25092) and stops it.

import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '10,2000' },
    'idle-s': { type: 'string', default: '300' },
    cli: { type: 'string', default: join(ROOT, 'dist', 'cli.js') },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const idleMs = Number(values['idle-s']) * 1000;
const counts = values.files.split(',').map(Number);
const extraEnv = Object.fromEntries(values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const kafkaEnv = { ...process.env, KAFKA_LOCAL_DIR: join(ROOT, '.run', 'kafka-idle'), KAFKA_LOCAL_PORT: '25092' };
const TICKS_PER_S = 100; // getconf CLK_TCK on Linux

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

function fds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

async function acked(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^logagent_lines_acked_total (\d+)/m.exec(text);
  return Number(m?.[1] ?? 0);
}

async function measure(bootstrap: string, files: number): Promise<Record<string, string | number>> {
  const dir = mkdtempSync(join(tmpdir(), 'logagent-idle-'));
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  for (let f = 0; f < files; f++) {
    writeFileSync(join(logs, `app-${f}.log`), Array.from({ length: 10 }, (_, i) => `file ${f} line ${i} ${'x'.repeat(80)}\n`).join(''));
  }
  const port = 25464;
  const agent = spawn(values.cli, ['run'], {
    env: {
      PATH: process.env.PATH ?? '',
      KAFKA_BROKERS: bootstrap,
      LOGAGENT_TOPIC: `idle-${files}-${Date.now()}`,
      LOGAGENT_PATHS: join(logs, '*.log'),
      LOGAGENT_START_AT: 'beginning',
      LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp'),
      LOGAGENT_HTTP_PORT: String(port),
      LOGAGENT_HTTP_HOST: '127.0.0.1',
      LOGAGENT_LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const pid = agent.pid as number;
  const startedAt = Date.now();
  try {
    for (;;) {
      if (agent.exitCode !== null) throw new Error(`agent exited with ${agent.exitCode}`);
      const n = await acked(port).catch(() => 0);
      if (n >= files * 10) break;
      if (Date.now() - startedAt > 300_000) throw new Error(`only ${n} of ${files * 10} lines acknowledged`);
      await sleep(100);
    }
    const shippedMs = Date.now() - startedAt;
    await sleep(5_000); // let the last acknowledgements and checkpoint settle
    const t0 = cpuTicks(pid);
    const rssStart = rssMiB(pid);
    const fdsStart = fds(pid);
    let rssPeak = rssStart;
    const until = Date.now() + idleMs;
    while (Date.now() < until) {
      await sleep(Math.min(5_000, until - Date.now()));
      rssPeak = Math.max(rssPeak, rssMiB(pid));
    }
    const cpuS = (cpuTicks(pid) - t0) / TICKS_PER_S;
    return {
      files,
      shippedS: (shippedMs / 1000).toFixed(1),
      idleS: idleMs / 1000,
      cpuS: cpuS.toFixed(2),
      cpuPct: ((cpuS / (idleMs / 1000)) * 100).toFixed(3),
      rssStartMiB: rssStart.toFixed(1),
      rssEndMiB: rssMiB(pid).toFixed(1),
      rssPeakMiB: rssPeak.toFixed(1),
      fdsStart,
      fdsEnd: fds(pid),
    };
  } finally {
    if (agent.exitCode === null && agent.signalCode === null) {
      const exited = new Promise((r) => agent.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const bootstrap =
  (await run('bash', [join(ROOT, 'scripts', 'kafka-local.sh'), 'start'], { env: kafkaEnv })).stdout.trim().split('\n').pop() ?? '';
try {
  const rows = [];
  for (const files of counts) {
    const row = await measure(bootstrap, files);
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  console.log(`\ncli: ${values.cli}  idle window: ${idleMs / 1000} s  load: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  console.log('| files | shipped in | idle CPU s | % of a core | RSS start / end / peak MiB | fds start / end |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(
      `| ${r.files} | ${r.shippedS} s | ${r.cpuS} | ${r.cpuPct} | ${r.rssStartMiB} / ${r.rssEndMiB} / ${r.rssPeakMiB} | ${r.fdsStart} / ${r.fdsEnd} |`,
    );
  }
} finally {
  await run('bash', [join(ROOT, 'scripts', 'kafka-local.sh'), 'stop'], { env: kafkaEnv });
}

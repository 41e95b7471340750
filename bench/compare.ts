// bench/compare: every contender on the same corpus, broker, topic settings
// and machine, one after another in one invocation, each verified by
// consuming what arrived. See docs/benchmarks.md for what is measured, the
// contenders' settings and recorded figures.
//
//   node bench/compare.ts [--only a,b] [--corpus access,json,many] [--quick] [--docs]
//
// Contenders: logagent, kcat, rsyslog, syslog-ng, classic (bench/contenders/).
// Scenarios: throughput (each corpus, without and with lz4), latency (steady
// writer at each --rates value), idle (start to first ack, then quiet
// minutes). Progress goes to stderr, the markdown report to stdout; the JSON
// and SVG go to the run dir, or into docs/ with --docs (which also replaces
// the generated section of docs/benchmarks.md).

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { classic } from './contenders/classic.ts';
import { kcat } from './contenders/kcat.ts';
import { logagent } from './contenders/logagent.ts';
import { rsyslog } from './contenders/rsyslog.ts';
import { syslogNg } from './contenders/syslog-ng.ts';
import { liveContenders, type Compression, type Contender } from './contenders/types.ts';
import { Broker } from './lib/broker.ts';
import { type CorpusKind, type CorpusSizes, generateCorpus } from './lib/corpus.ts';
import { processTree, signalPid } from './lib/proc.ts';
import { markdown, type Results, svg } from './lib/report.ts';
import { type Context, idle, latency, PARTITIONS, throughput } from './lib/scenarios.ts';
import { git, log, ROOT } from './lib/util.ts';

const USAGE = `usage: node bench/compare.ts [options]
  --only NAMES            contenders, comma-separated (default: all): logagent, kcat, rsyslog, syslog-ng, classic,
                          and logagent-<variant> for each --logagent-variant
  --scenarios LIST        throughput,latency,idle (default: all three)
  --corpus LIST           access,json,many (default: all three)
  --compression LIST      none,lz4 (default: both)
  --quick                 smoke run of a few minutes: small corpora, 10 s latency runs, 30 s idle
  --lines N               access-log lines (1,000,000; quick 100,000)
  --json-lines N          JSON lines (200,000; quick 20,000)
  --files N               files of the many-files corpus (100; quick 20)
  --file-lines N          lines per file there (10,000; quick 1,000)
  --rates LIST            latency writer rates, lines/s (10000,50000)
  --latency-s S           writer duration per rate (60; quick 10)
  --idle-minutes M        quiet minutes measured (5; quick 0.5)
  --idle-files N          watched quiet files (10)
  --logagent-env K=V      extra env of the logagent contender, repeatable (e.g. KAFKA_CLIENT=native)
  --logagent-variant NAME:K=V[,K=V]  one more LogAgent contender "logagent-NAME" with that env, repeatable
  --no-build              measure dist/ as it is (default: npm run build first)
  --cpu-prof              V8 CPU profiles of LogAgent's runs (in the run dir; slows it down)
  --port P                the bench broker's port (31092; controller P+100; keep it below 32768, the ephemeral range)
  --kafka-dir DIR         the bench broker's run dir (.run/kafka-bench)
  --run-dir DIR           corpora, configs, logs, results (.run/bench)
  --timeout-s S           give up on a throughput run after this long (900)
  --render FILE.json      measure nothing: write the report of an earlier run's JSON again (with --docs: into docs/)
  --docs                  write docs/benchmarks-compare.{svg,json} and the generated section of docs/benchmarks.md
  --keep                  keep corpora and run files`;

// kafkajs (the harness's admin client) sets negative timers, which Node 24
// clamps and warns about; the warning is noise in the bench's progress log.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string' },
    scenarios: { type: 'string', default: 'throughput,latency,idle' },
    corpus: { type: 'string', default: 'access,json,many' },
    compression: { type: 'string', default: 'none,lz4' },
    quick: { type: 'boolean', default: false },
    lines: { type: 'string' },
    'json-lines': { type: 'string' },
    files: { type: 'string' },
    'file-lines': { type: 'string' },
    rates: { type: 'string', default: '10000,50000' },
    'latency-s': { type: 'string' },
    'idle-minutes': { type: 'string' },
    'idle-files': { type: 'string', default: '10' },
    'logagent-env': { type: 'string', multiple: true, default: [] },
    'logagent-variant': { type: 'string', multiple: true, default: [] },
    'no-build': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    port: { type: 'string', default: '31092' },
    'kafka-dir': { type: 'string', default: join(ROOT, '.run', 'kafka-bench') },
    'run-dir': { type: 'string', default: join(ROOT, '.run', 'bench') },
    'timeout-s': { type: 'string', default: '900' },
    render: { type: 'string' },
    docs: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

function fail(message: string): never {
  process.stderr.write(`bench/compare: ${message}\n${USAGE}\n`);
  process.exit(2);
}

if (opts.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}

function num(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!(n > 0)) fail(`--${name} must be a positive number, got ${raw}`);
  return n;
}

function list<T extends string>(name: string, raw: string, allowed: readonly T[]): T[] {
  const items = raw.split(',').filter(Boolean);
  for (const i of items) if (!allowed.includes(i as T)) fail(`--${name}: ${i} is not one of ${allowed.join(', ')}`);
  return items as T[];
}

function envPairs(name: string, pairs: string[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((kv) => {
      const eq = kv.indexOf('=');
      if (eq <= 0) fail(`--${name} needs K=V, got ${kv}`);
      return [kv.slice(0, eq), kv.slice(eq + 1)];
    }),
  );
}

const quick = opts.quick;
const sizes: CorpusSizes = {
  accessLines: num('lines', opts.lines, quick ? 100_000 : 1_000_000),
  accessBytes: 200,
  jsonLines: num('json-lines', opts['json-lines'], quick ? 20_000 : 200_000),
  jsonBytes: 1024,
  manyFiles: num('files', opts.files, quick ? 20 : 100),
  manyLinesPerFile: num('file-lines', opts['file-lines'], quick ? 1_000 : 10_000),
};
const scenarios = list('scenarios', opts.scenarios, ['throughput', 'latency', 'idle'] as const);
const corpora = list('corpus', opts.corpus, ['access', 'json', 'many'] as const) as CorpusKind[];
const compressions = list('compression', opts.compression, ['none', 'lz4'] as const) as Compression[];
const rates = opts.rates.split(',').map((r) => num('rates', r, 0));
const latencyS = num('latency-s', opts['latency-s'], quick ? 10 : 60);
const idleS = num('idle-minutes', opts['idle-minutes'], quick ? 0.5 : 5) * 60;
const idleFiles = num('idle-files', opts['idle-files'], 10);
const port = num('port', opts.port, 31092);
const runDir = resolve(opts['run-dir']);

const build = !opts['no-build'];
const all: Contender[] = [
  logagent({ name: 'logagent', extraEnv: envPairs('logagent-env', opts['logagent-env']), build, cpuProf: opts['cpu-prof'] }),
  ...opts['logagent-variant'].map((v) => {
    const colon = v.indexOf(':');
    if (colon <= 0) fail(`--logagent-variant needs NAME:K=V[,K=V], got ${v}`);
    return logagent({
      name: `logagent-${v.slice(0, colon)}`,
      extraEnv: envPairs('logagent-variant', v.slice(colon + 1).split(',')),
      build: false,
      cpuProf: opts['cpu-prof'],
    });
  }),
  kcat(),
  rsyslog(),
  syslogNg(),
  classic(),
];
const only = opts.only?.split(',').filter(Boolean);
for (const name of only ?? [])
  if (!all.some((c) => c.name === name)) fail(`--only: no contender ${name} (have ${all.map((c) => c.name).join(', ')})`);
const contenders = only ? all.filter((c) => only.includes(c.name)) : all;

function machine(): string {
  const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  return `${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${kernel}, Node ${process.version}`;
}

let broker: Broker | undefined;

async function cleanup(): Promise<void> {
  for (const pid of liveContenders) for (const p of processTree(pid)) signalPid(p, 'SIGKILL');
  if (broker) {
    log('stopping the bench broker');
    await broker.stop().catch((err: unknown) => log(`broker stop: ${String(err)}`));
    broker = undefined;
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping contenders and the broker`);
    void cleanup().finally(() => process.exit(130));
  });
}

function writeOutputs(results: Results): void {
  mkdirSync(runDir, { recursive: true });
  const md = markdown(results);
  process.stdout.write(md + '\n');
  const outDir = opts.docs ? join(ROOT, 'docs') : runDir;
  writeFileSync(join(outDir, 'benchmarks-compare.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(outDir, 'benchmarks-compare.svg'), svg(results));
  writeFileSync(join(runDir, 'benchmarks-compare.md'), md + '\n');
  if (opts.docs) {
    const doc = join(ROOT, 'docs', 'benchmarks.md');
    const text = readFileSync(doc, 'utf8');
    const begin = '<!-- bench/compare: begin -->';
    const end = '<!-- bench/compare: end -->';
    const a = text.indexOf(begin);
    const b = text.indexOf(end);
    if (a < 0 || b < a) throw new Error(`${doc} has no ${begin} ... ${end} section`);
    writeFileSync(doc, `${text.slice(0, a + begin.length)}\n\n${md}\n\n${text.slice(b)}`);
    log('wrote docs/benchmarks-compare.json, docs/benchmarks-compare.svg and the generated section of docs/benchmarks.md');
  } else {
    log(`wrote ${join(runDir, 'benchmarks-compare.{json,svg,md}')}`);
  }
}

async function main(): Promise<void> {
  if (opts.render) {
    writeOutputs(JSON.parse(readFileSync(opts.render, 'utf8')) as Results);
    return;
  }
  mkdirSync(runDir, { recursive: true });
  // A full run writes up to ~1.5 GB at once (a 600 MB latency file and its
  // copy in the broker, or a corpus and its topic); the disk is shared.
  const fs = statfsSync(runDir);
  const freeGiB = (fs.bavail * fs.bsize) / 2 ** 30;
  const needGiB = quick ? 1 : 4;
  if (freeGiB < needGiB) throw new Error(`only ${freeGiB.toFixed(1)} GiB free under ${runDir}; this run needs about ${needGiB} GiB`);
  const versions: Record<string, string> = {};
  for (const c of contenders) {
    log(`preparing ${c.name}`);
    versions[c.name] = await c.prepare();
  }
  const tag = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  broker = new Broker({ dir: resolve(opts['kafka-dir']), port });
  log(`starting the bench broker on 127.0.0.1:${port} (run dir ${opts['kafka-dir']})`);
  await broker.start();
  // A fresh broker is slow for its first few hundred MB (JIT, page cache):
  // without a warm-up the first contender measured pays for it (seen: 3.3 s
  // where later rounds took 1.5-2.5 s). kcat writes 2,000,000 lines of
  // 100 bytes first, to a topic of its own.
  const warmTopic = `warmup-${Date.now().toString(36)}`;
  await broker.createTopic(warmTopic, PARTITIONS);
  log('warming the broker up: 2,000,000 lines through kcat');
  execFileSync(
    'bash',
    [
      '-c',
      `head -c 200000000 /dev/zero | tr '\\0' x | fold -w 99 | kcat -P -b ${broker.bootstrap} -t ${warmTopic} -X acks=all -X linger.ms=5`,
    ],
    { stdio: 'inherit' },
  );
  await broker.deleteTopic(warmTopic);
  const kafkaJar = execFileSync('bash', ['-c', `ls ${join(ROOT, '.cache', 'kafka', 'lib')} | grep -m1 '^kafka_2.13-'`], {
    encoding: 'utf8',
  }).trim();
  const ctx: Context = { broker, runDir, tag, timeoutS: num('timeout-s', opts['timeout-s'], 900) };
  const results: Results = {
    meta: {
      date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
      commit: `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src', 'bench').trim() ? ' (with uncommitted changes under src/ or bench/)' : ''}`,
      command: `node bench/compare.ts ${process.argv.slice(2).join(' ')}`.trim(),
      machine: machine(),
      broker: `one Kafka node (${kafkaJar.replace(/\.jar$/, '')}, KRaft) from scripts/kafka-local.sh on 127.0.0.1:${port}, topics of ${PARTITIONS} partitions, replication factor 1, message.timestamp.type=LogAppendTime`,
      versions,
      settings: Object.fromEntries(contenders.map((c) => [c.name, c.settings(compressions.includes('lz4') ? 'lz4' : 'none')])),
      titles: Object.fromEntries(all.map((c) => [c.name, c.title])),
      corpora: {},
      reference: contenders[0]?.name ?? 'logagent',
    },
    throughput: [],
    latency: [],
    idle: [],
  };
  try {
    if (scenarios.includes('throughput')) {
      const corpusDir = join(runDir, 'corpus');
      for (const kind of corpora) {
        log(`generating the ${kind} corpus`);
        const corpus = generateCorpus(corpusDir, kind, sizes);
        results.meta.corpora[kind] = corpus.title;
        execFileSync('sync');
        for (const compression of compressions) {
          for (const c of contenders) {
            log(`throughput: ${c.name}, ${corpus.title}, compression ${compression}`);
            results.throughput.push(await throughput(ctx, c, corpus, compression));
            await new Promise((r) => setTimeout(r, 2_000));
          }
        }
        if (!opts.keep) rmSync(corpus.dir, { recursive: true, force: true });
      }
    }
    if (scenarios.includes('latency')) {
      for (const rate of rates) {
        for (const c of contenders) {
          log(`latency: ${c.name} at ${rate} lines/s for ${latencyS} s`);
          results.latency.push(await latency(ctx, c, rate, latencyS, 200));
          await new Promise((r) => setTimeout(r, 2_000));
        }
      }
    }
    if (scenarios.includes('idle')) {
      log(`idle: ${contenders.map((c) => c.name).join(', ')}; ${idleS} s with ${idleFiles} quiet files`);
      results.idle = await idle(ctx, contenders, idleS, idleFiles);
    }
  } finally {
    await cleanup();
  }

  writeOutputs(results);
  const bad = [...results.throughput, ...results.latency].filter(
    (r) => r.verification && !r.verification.ok && !('keptUp' in r && r.keptUp === false),
  );
  process.exitCode = bad.length ? 1 : 0;
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench/compare: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await cleanup();
  process.exit(1);
});

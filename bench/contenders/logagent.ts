// LogAgent as users run it: the bin (dist/cli.js, whose shebang carries the
// V8 flags it ships with), configured by environment, acks=all, every other
// setting at its default. Extra environment (--logagent-env K=V, or a named
// variant --logagent-variant NAME:K=V,K=V) is applied last, e.g. to compare
// Kafka clients: --logagent-variant kafkajs:KAFKA_CLIENT=kafkajs runs the bin
// a second time with kafkajs beside the default (native) client.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, git, log, ROOT } from '../lib/util.ts';
import { spawnContender, type Compression, type Contender, type RunInput } from './types.ts';

export interface LogAgentOptions {
  /** Contender name: logagent, or logagent-<variant>. */
  name: string;
  extraEnv: Record<string, string>;
  /** Run `npm run build` in prepare() (default); false measures dist/ as it is. */
  build: boolean;
  /** Write a V8 CPU profile of each run into the run's work dir. */
  cpuProf: boolean;
}

/** Which code is measured: HEAD, changed files under src/, and a digest of dist/*.js. */
export function logagentBuild(): string {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js')) files.push(p);
    }
  };
  if (existsSync(join(ROOT, 'dist'))) walk(join(ROOT, 'dist'));
  const hash = createHash('sha256');
  for (const file of files.sort()) hash.update(file).update(readFileSync(file));
  const dirty = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
  return `git ${git('rev-parse', '--short', 'HEAD')}, ${dirty} changed file(s) under src/, dist/*.js sha256 ${hash.digest('hex').slice(0, 12)}`;
}

export function logagent(options: LogAgentOptions): Contender {
  const env = (input: RunInput): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH ?? '',
    ...(options.cpuProf ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${join(input.workDir, 'cpu-prof')}` } : {}),
    KAFKA_BROKERS: input.brokers,
    LOGAGENT_TOPIC: input.topic,
    LOGAGENT_PATHS: input.files.length === 1 ? input.files[0] : input.glob,
    LOGAGENT_START_AT: 'beginning',
    KAFKA_ACKS: 'all',
    KAFKA_COMPRESSION: input.compression,
    LOGAGENT_HTTP_PORT: '0',
    LOGAGENT_CHECKPOINT_DIR: join(input.workDir, 'checkpoints'),
    ...options.extraEnv,
  });
  const extra = Object.entries(options.extraEnv).map(([k, v]) => `${k}=${v}`);
  return {
    name: options.name,
    title: options.name === 'logagent' ? 'LogAgent' : `LogAgent (${options.name.slice('logagent-'.length)})`,
    tails: true,
    manyFiles: true,
    limits: '',
    prepare: async () => {
      if (options.build) {
        log('npm run build (LogAgent is measured as its built bin)');
        execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
      }
      if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build`);
      const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
      return `logagent ${pkg.version} (${logagentBuild()}), ${process.version}`;
    },
    settings: (compression: Compression) => [
      `\`dist/cli.js run\` (shebang: \`${readFileSync(CLI, 'utf8').split('\n')[0]?.slice(2) ?? '?'}\`)`,
      `env: KAFKA_ACKS=all, KAFKA_COMPRESSION=${compression}, LOGAGENT_START_AT=beginning, LOGAGENT_PATHS=<file or glob>, LOGAGENT_HTTP_PORT=0, LOGAGENT_CHECKPOINT_DIR=<run dir>`,
      extra.length ? `extra env: ${extra.join(' ')}` : 'every other setting at its default',
    ],
    start: (input) => spawnContender(options.name, CLI, ['run'], { workDir: input.workDir, env: env(input) }),
  };
}

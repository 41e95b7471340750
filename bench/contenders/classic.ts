// The classic Go LogAgent this project replaces (bench/peers/classic-logagent):
// hpcloud/tail on one file, one sarama SyncProducer send per line, acks=all.
// Built through the Go module proxy with the machine's Go (GOTOOLCHAIN=local);
// the binary is cached outside the repository, rebuilt when its sources
// change.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { log, ROOT } from '../lib/util.ts';
import { spawnContender, type Contender } from './types.ts';

const SRC = join(ROOT, 'bench', 'peers', 'classic-logagent');
const CACHE = join(homedir(), '.cache', 'logagent', 'bench');
const BIN = join(CACHE, 'classic-logagent');

function sourceDigest(): string {
  const hash = createHash('sha256');
  for (const f of ['main.go', 'go.mod', 'go.sum']) hash.update(f).update(readFileSync(join(SRC, f)));
  return hash.digest('hex');
}

export function classic(): Contender {
  return {
    name: 'classic',
    title: 'classic Go LogAgent (sarama)',
    tails: true,
    manyFiles: false,
    limits: 'follows one file: skips the many-files corpus; idle watches 1 file, not 10',
    prepare: async () => {
      const digest = sourceDigest();
      const stamp = `${BIN}.stamp`;
      if (!existsSync(BIN) || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== digest) {
        log('building bench/peers/classic-logagent (go build, module proxy)');
        mkdirSync(CACHE, { recursive: true });
        const goPath = existsSync('/usr/local/go/bin') ? `/usr/local/go/bin:${process.env.PATH ?? ''}` : (process.env.PATH ?? '');
        execFileSync('go', ['build', '-trimpath', '-o', BIN, '.'], {
          cwd: SRC,
          env: { ...process.env, PATH: goPath, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' },
          stdio: ['ignore', 'inherit', 'inherit'],
        });
        writeFileSync(stamp, digest);
      }
      const mod = readFileSync(join(SRC, 'go.mod'), 'utf8');
      const v = (m: string) => new RegExp(`${m} (v\\S+)`).exec(mod)?.[1] ?? '?';
      return `classic-logagent (IBM/sarama ${v('github.com/IBM/sarama')}, hpcloud/tail ${v('github.com/hpcloud/tail')}), ${execFileSync('go', ['version'], { encoding: 'utf8', env: { ...process.env, PATH: `/usr/local/go/bin:${process.env.PATH ?? ''}`, GOTOOLCHAIN: 'local' } }).trim()}`;
    },
    settings: (compression) => [
      'hpcloud/tail: Follow, ReOpen, from the beginning, inotify',
      `sarama SyncProducer: RequiredAcks=WaitForAll, Compression=${compression}, one SendMessage per line (one request in flight), no key (random partition), sarama defaults otherwise`,
    ],
    start: (input) =>
      spawnContender(
        'classic',
        BIN,
        ['-file', input.files[0] as string, '-brokers', input.brokers, '-topic', input.topic, '-compression', input.compression],
        { workDir: input.workDir },
      ),
  };
}

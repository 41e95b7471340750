// kcat producing the files: librdkafka's producer with no tailing, the
// ceiling a C shipper built on librdkafka can reach on this machine.
// Throughput: `kcat -P -l FILE...` reads the complete files and exits once
// every delivery report arrived; its CPU and peak RSS come from GNU time.
// It takes no part in the latency and idle scenarios: it does not follow
// files, and `tail -F FILE | kcat -P` is no substitute here: kcat 1.7.1 held
// the last lines read from a pipe back until more input came (1,985 of 2,000
// lines delivered after 10 s in a try), so a steady writer's last lines would
// count as late or missing for a reason that is not librdkafka's.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { which } from '../lib/util.ts';
import { spawnContender, type Compression, type Contender } from './types.ts';

const GNU_TIME = '/usr/bin/time';

function producerArgs(brokers: string, topic: string, compression: Compression): string[] {
  return ['-P', '-b', brokers, '-t', topic, '-X', 'acks=all', '-z', compression];
}

export function kcat(): Contender {
  return {
    name: 'kcat',
    title: 'kcat (librdkafka, no tailing)',
    tails: false,
    manyFiles: true,
    limits: 'does not follow files: throughput only',
    prepare: async () => {
      if (!which('kcat')) throw new Error('kcat is missing (Debian package kcat)');
      if (!which(GNU_TIME)) throw new Error(`${GNU_TIME} is missing (Debian package time)`);
      const version = execFileSync('kcat', ['-V'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => /^(Version|kcat - )/.test(l))
        .join(' ')
        .trim();
      return version || 'kcat (version unknown)';
    },
    settings: (compression) => [
      `\`kcat -P -b <broker> -t <topic> -X acks=all -z ${compression} -l <file>\` under \`/usr/bin/time -v\` (many files: \`cat <files> | kcat -P ...\`, since -l takes one file; cat's CPU is not counted)`,
      'librdkafka 2.0.2 defaults otherwise: linger (queue.buffering.max.ms) 5 ms, batch.num.messages 10,000, batch.size 1,000,000, sticky partitioning of null keys, no idempotence',
    ],
    start: (input) => {
      const gnuTimeFile = join(input.workDir, 'kcat.time');
      const kcatArgs = ['-v', '-o', gnuTimeFile, 'kcat', ...producerArgs(input.brokers, input.topic, input.compression)];
      if (input.files.length === 1) {
        return spawnContender('kcat', GNU_TIME, [...kcatArgs, '-l', input.files[0] as string], { workDir: input.workDir, gnuTimeFile });
      }
      // -l takes one file; many files go through stdin (delimited by newlines), read to EOF.
      return spawnContender('kcat', 'bash', ['-c', `cat -- "$@" | exec ${GNU_TIME} ${kcatArgs.join(' ')}`, 'cat-kcat', ...input.files], {
        workDir: input.workDir,
        gnuTimeFile,
      });
    },
  };
}

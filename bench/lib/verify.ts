// Verification by consuming: reads a whole topic back with kcat (librdkafka,
// a client independent of every contender but kcat itself) and counts each
// numbered line: received, unique, missing, duplicates, malformed. With
// `latency`, also the write-to-append latency of each line: the broker's
// LogAppendTime (the topic is created with it) minus the write time the
// latency writer put into the line.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { seqOf, writeTimeOf } from './corpus.ts';

export interface Verification {
  expected: number;
  received: number;
  unique: number;
  missing: number;
  duplicates: number;
  malformed: number;
  perPartition: number[];
  ok: boolean;
}

export interface LatencyStats {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Lines that are not counted (the latency and idle scenarios' warm-up line). */
export const WARMUP_PREFIX = 'warmup ';

export async function verifyTopic(
  brokers: string,
  topic: string,
  expected: number,
  perPartition: number[],
  options: { latency?: boolean } = {},
): Promise<{ verification: Verification; latency?: LatencyStats }> {
  const counts = new Uint8Array(expected);
  let received = 0;
  let malformed = 0;
  const latencies: number[] = [];
  const format = options.latency ? '%T %s\n' : '%s\n';
  const proc = spawn('kcat', ['-C', '-b', brokers, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', format], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('close', (code) => r(code)));
  for await (const raw of createInterface({ input: proc.stdout, crlfDelay: Infinity })) {
    let line = raw;
    let appendMs = NaN;
    if (options.latency) {
      const sp = raw.indexOf(' ');
      appendMs = Number(raw.slice(0, sp));
      line = raw.slice(sp + 1);
    }
    if (line.startsWith(WARMUP_PREFIX)) continue;
    received++;
    const n = seqOf(line);
    if (n < 0 || n >= expected) {
      malformed++;
      continue;
    }
    if (counts[n] !== 255) counts[n] = (counts[n] ?? 0) + 1;
    if (options.latency) {
      const written = writeTimeOf(line);
      if (Number.isFinite(written) && Number.isFinite(appendMs)) latencies.push(appendMs - written);
    }
  }
  const code = await exited;
  if (code !== 0) throw new Error(`kcat consumer exited ${code}: ${stderr.slice(0, 2000)}`);
  let unique = 0;
  for (const c of counts) if (c > 0) unique++;
  const verification: Verification = {
    expected,
    received,
    unique,
    missing: expected - unique,
    duplicates: received - malformed - unique,
    malformed,
    perPartition,
    ok: unique === expected && received === expected && malformed === 0,
  };
  if (!options.latency) return { verification };
  return { verification, latency: percentiles(latencies) };
}

export function percentiles(values: number[]): LatencyStats {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => (sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN) : NaN);
  return { count: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.length ? (sorted[sorted.length - 1] ?? NaN) : NaN };
}

// The bench's input files. Every line carries its number as `seq=N` (or
// `"seq":N` in JSON), so that verification can count each line back: missing,
// duplicated or malformed. Lines are generated deterministically enough to be
// realistic (an access log, a JSON application log) and random enough that
// compression has work to do.

import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export type CorpusKind = 'access' | 'json' | 'many';

export interface Corpus {
  kind: CorpusKind;
  /** e.g. "1,000,000 access-log lines × 200 B, 1 file". */
  title: string;
  dir: string;
  files: string[];
  /** Glob over all the files, for shippers that take one. */
  glob: string;
  lines: number;
  /** Line bytes without newlines, all files. */
  payloadBytes: number;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A pool of random printable text, sliced for variable parts of lines. */
function pool(size: number): string {
  return Array.from(randomBytes(size), (b) => ALPHABET[b % ALPHABET.length]).join('');
}

const PATHS = ['/shop/item', '/api/v1/cart', '/static/app.js', '/api/v1/search', '/checkout', '/img/thumb'];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1) Mobile/15E148',
  'curl/8.5.0',
];

/** An access-log line of exactly `bytes` bytes (no newline), ending in seq=<n>. */
function accessLine(n: number, bytes: number, text: string): string {
  const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  const status = n % 50 === 0 ? 404 : 200;
  const head = `${ip} - - [02/Dec/2026:06:${String(((n / 60000) % 60) | 0).padStart(2, '0')}:${String(((n / 1000) % 60) | 0).padStart(2, '0')} +0000] "GET ${PATHS[n % PATHS.length]}/${n % 9973}?q=`;
  const tail = ` HTTP/1.1" ${status} ${1000 + (n % 50000)} "-" "${AGENTS[n % AGENTS.length]}" seq=${String(n).padStart(9, '0')}`;
  const fill = Math.max(1, bytes - head.length - tail.length);
  const start = (n * 7919) % (text.length - fill);
  return head + text.slice(start, start + fill) + tail;
}

/** A JSON log line of exactly `bytes` bytes (no newline), starting {"seq":<n>. */
function jsonLine(n: number, bytes: number, text: string): string {
  const head = `{"seq":${n},"time":"2026-12-02T06:19:${String(n % 60).padStart(2, '0')}.${String(n % 1000).padStart(3, '0')}Z","level":"${n % 20 === 0 ? 'warn' : 'info'}","logger":"shop.checkout","trace_id":"${text.slice(n % 997, (n % 997) + 32)}","user":{"id":${n % 100000},"tier":"gold"},"msg":"order processed","detail":"`;
  const tail = '"}';
  const fill = Math.max(1, bytes - head.length - tail.length);
  const start = (n * 7919) % (text.length - fill);
  return head + text.slice(start, start + fill) + tail;
}

function writeLines(path: string, from: number, count: number, line: (n: number) => string): number {
  const fd = openSync(path, 'w');
  let bytes = 0;
  try {
    let chunk: string[] = [];
    let size = 0;
    for (let i = from; i < from + count; i++) {
      const l = line(i);
      chunk.push(l, '\n');
      size += l.length + 1;
      bytes += l.length;
      if (size >= 1 << 20) {
        writeSync(fd, chunk.join(''));
        chunk = [];
        size = 0;
      }
    }
    if (chunk.length) writeSync(fd, chunk.join(''));
  } finally {
    closeSync(fd);
  }
  return bytes;
}

export interface CorpusSizes {
  accessLines: number;
  accessBytes: number;
  jsonLines: number;
  jsonBytes: number;
  manyFiles: number;
  manyLinesPerFile: number;
}

/** Writes one corpus under `root` (replacing what was there). */
export function generateCorpus(root: string, kind: CorpusKind, sizes: CorpusSizes): Corpus {
  const dir = join(root, kind);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const text = pool(1 << 17);
  if (kind === 'access') {
    const file = join(dir, 'access.log');
    const payloadBytes = writeLines(file, 0, sizes.accessLines, (n) => accessLine(n, sizes.accessBytes, text));
    return {
      kind,
      title: `${sizes.accessLines.toLocaleString('en-US')} access-log lines × ${sizes.accessBytes} B, 1 file`,
      dir,
      files: [file],
      glob: join(dir, '*.log'),
      lines: sizes.accessLines,
      payloadBytes,
    };
  }
  if (kind === 'json') {
    const file = join(dir, 'app.json.log');
    const payloadBytes = writeLines(file, 0, sizes.jsonLines, (n) => jsonLine(n, sizes.jsonBytes, text));
    return {
      kind,
      title: `${sizes.jsonLines.toLocaleString('en-US')} JSON lines × ${sizes.jsonBytes} B, 1 file`,
      dir,
      files: [file],
      glob: join(dir, '*.log'),
      lines: sizes.jsonLines,
      payloadBytes,
    };
  }
  const files: string[] = [];
  let payloadBytes = 0;
  for (let f = 0; f < sizes.manyFiles; f++) {
    const file = join(dir, `app-${String(f).padStart(3, '0')}.log`);
    payloadBytes += writeLines(file, f * sizes.manyLinesPerFile, sizes.manyLinesPerFile, (n) => accessLine(n, sizes.accessBytes, text));
    files.push(file);
  }
  return {
    kind,
    title: `${sizes.manyFiles} files × ${sizes.manyLinesPerFile.toLocaleString('en-US')} access-log lines × ${sizes.accessBytes} B, at once`,
    dir,
    files,
    glob: join(dir, '*.log'),
    lines: sizes.manyFiles * sizes.manyLinesPerFile,
    payloadBytes,
  };
}

/** Bytes on disk of a corpus (payload plus newlines). */
export function corpusFileBytes(c: Corpus): number {
  return c.files.reduce((a, f) => a + statSync(f).size, 0);
}

/**
 * The line number a line carries (`seq=N` or `"seq":N`), or -1. Lines of the
 * latency writer (`seq=N t=MS ...`) parse the same way.
 */
export function seqOf(line: string): number {
  // The random parts of lines hold neither '=' nor '"', so these markers are unambiguous.
  let i = line.indexOf('seq=');
  if (i >= 0) i += 4;
  else {
    i = line.indexOf('"seq":');
    if (i < 0) return -1;
    i += 6;
  }
  let n = 0;
  let digits = 0;
  for (; i < line.length; i++, digits++) {
    const d = line.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return digits ? n : -1;
}

/** The write time (epoch ms) a latency-writer line carries as ` t=MS`, or NaN. */
export function writeTimeOf(line: string): number {
  const i = line.indexOf(' t=');
  if (i < 0) return NaN;
  const end = line.indexOf(' ', i + 3);
  return Number(line.slice(i + 3, end < 0 ? undefined : end));
}

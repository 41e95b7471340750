// The checkpoint store: per file identity, the offset just past the last
// line of the contiguous run Kafka acknowledged, with the content signature
// that lets a restart trust it. Persisted as versioned JSON, atomically:
// write a temp file, fsync it, rename it over the old one, fsync the
// directory. A crash leaves either the old or the new file, never a mix.
//
// A checkpoint file that cannot be parsed is moved aside (never deleted, never
// a crash loop) and the agent starts as if it had none; that is logged as an
// error and counted.

import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type pino from 'pino';
import { CheckpointError, errnoCode, errorMessage } from '../errors.ts';
import type { Metrics } from '../metrics.ts';

export const CHECKPOINT_FILE = 'checkpoints.json';
const FORMAT_VERSION = 2;
/** Versions this build reads: 1 lacked `input` and `finished` (read as unknown and unfinished). */
const READABLE_VERSIONS = new Set([1, 2]);

export interface CheckpointEntry {
  /** Path the file was last seen at (informational: identity is the key). */
  readonly path: string;
  readonly offset: number;
  readonly head: { readonly length: number; readonly sha256: string };
  /** Base64 of up to 32 bytes just before `offset`. */
  readonly tail: string;
  /** Epoch ms of the last time the file was seen open or on disk. */
  readonly seenAt: number;
  /** Name of the input whose route the file's lines took. */
  readonly input?: string;
  /** Stable id of the file's content (the logagent.source header of its records). */
  readonly source?: string;
  /**
   * The file was rotated away and read to its end: nothing more is expected
   * from it. An unfinished file that is not at any matched path after a
   * restart is looked for by identity (it was renamed while we were down).
   */
  readonly finished?: boolean;
}

interface CheckpointFile {
  version: number;
  files: Record<string, CheckpointEntry>;
}

export interface CheckpointStoreOptions {
  dir: string;
  logger: pino.Logger;
  metrics?: Metrics;
  now?: () => number;
}

export class CheckpointStore {
  readonly dir: string;
  readonly path: string;
  private readonly logger: pino.Logger;
  private readonly metrics: Metrics | undefined;
  private readonly now: () => number;
  private entries = new Map<string, CheckpointEntry>();
  private dirty = false;
  private writing: Promise<void> | undefined;

  constructor(options: CheckpointStoreOptions) {
    this.dir = options.dir;
    this.path = join(options.dir, CHECKPOINT_FILE);
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.now = options.now ?? Date.now;
  }

  /**
   * Loads the file; a missing file is an empty store, a corrupt one is moved
   * aside. The directory must exist (or be creatable) and be writable: that
   * is checked first, by writing and syncing a probe file, so that an
   * unusable directory is a clear error at start rather than a silent
   * failure at the first checkpoint.
   */
  async load(): Promise<void> {
    await this.probeWritable();
    try {
      const text = await this.readText();
      if (text === undefined) return;
      this.entries = parseCheckpointFile(text);
    } catch (err) {
      // Unreadable is treated like corrupt: a file we cannot use must not
      // turn every restart into the same failure (a crash loop).
      const aside = `${this.path}.corrupt-${this.now()}`;
      this.metrics?.checkpointErrors.inc({ kind: 'corrupt' });
      this.logger.error(
        { file: this.path, movedTo: aside, err: errorMessage(err) },
        'checkpoint file is corrupt or unreadable; moved aside, starting without checkpoints',
      );
      await rename(this.path, aside).catch((renameErr: unknown) => {
        throw new CheckpointError(
          'CHECKPOINT_IO',
          `cannot move corrupt checkpoint file ${this.path} aside: ${errorMessage(renameErr)}`,
          renameErr,
        );
      });
      this.entries = new Map();
    }
  }

  private async probeWritable(): Promise<void> {
    try {
      await makeDirectory(this.dir);
    } catch (err) {
      throw new CheckpointError('CHECKPOINT_DIR', `cannot create checkpoint directory ${this.dir}: ${errorMessage(err)}`, err);
    }
    const probe = join(this.dir, `.probe-${process.pid}`);
    try {
      const file = await open(probe, 'w', 0o644);
      try {
        await file.writeFile('probe', 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      await unlink(probe);
    } catch (err) {
      await unlink(probe).catch(() => undefined);
      throw new CheckpointError('CHECKPOINT_DIR', `checkpoint directory ${this.dir} is not writable: ${errorMessage(err)}`, err);
    }
  }

  /** Loads for inspection: a missing or corrupt file is reported, nothing is moved or created. */
  async loadReadOnly(): Promise<void> {
    const text = await this.readText();
    if (text === undefined) return;
    try {
      this.entries = parseCheckpointFile(text);
    } catch (err) {
      throw new CheckpointError('CHECKPOINT_CORRUPT', `checkpoint file ${this.path} is corrupt: ${errorMessage(err)}`, err);
    }
  }

  /** The checkpoint file's text; undefined when there is none yet. */
  private async readText(): Promise<string | undefined> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw new CheckpointError('CHECKPOINT_IO', `cannot read checkpoint file ${this.path}: ${errorMessage(err)}`, err);
    }
  }

  get(identity: string): CheckpointEntry | undefined {
    return this.entries.get(identity);
  }

  entriesList(): Array<[string, CheckpointEntry]> {
    return [...this.entries];
  }

  /** Some entry was last seen at `path`. */
  hasPath(path: string): boolean {
    for (const entry of this.entries.values()) if (entry.path === path) return true;
    return false;
  }

  identities(): IterableIterator<string> {
    return this.entries.keys();
  }

  get size(): number {
    return this.entries.size;
  }

  set(identity: string, entry: CheckpointEntry): void {
    const old = this.entries.get(identity);
    if (
      old &&
      old.offset === entry.offset &&
      old.path === entry.path &&
      old.tail === entry.tail &&
      old.head.length === entry.head.length &&
      old.head.sha256 === entry.head.sha256 &&
      old.input === entry.input &&
      old.source === entry.source &&
      old.finished === entry.finished &&
      entry.seenAt - old.seenAt < 60_000
    ) {
      return;
    }
    this.entries.set(identity, entry);
    this.dirty = true;
  }

  delete(identity: string): void {
    if (this.entries.delete(identity)) this.dirty = true;
  }

  /** Removes entries of files not seen for `maxAgeMs`, except the identities in `live`. */
  prune(maxAgeMs: number, live: ReadonlySet<string>): number {
    const cutoff = this.now() - maxAgeMs;
    let removed = 0;
    for (const [identity, entry] of this.entries) {
      if (!live.has(identity) && entry.seenAt < cutoff) {
        this.entries.delete(identity);
        removed++;
      }
    }
    if (removed > 0) this.dirty = true;
    return removed;
  }

  /** Writes the store if it changed since the last write. Concurrent calls share one write. */
  async persist(): Promise<void> {
    while (this.writing) await this.writing;
    if (!this.dirty) return;
    this.dirty = false;
    const snapshot: CheckpointFile = { version: FORMAT_VERSION, files: Object.fromEntries(this.entries) };
    this.writing = this.writeAtomically(JSON.stringify(snapshot)).catch((err: unknown) => {
      this.dirty = true;
      this.metrics?.checkpointErrors.inc({ kind: 'write' });
      throw new CheckpointError('CHECKPOINT_IO', `cannot write checkpoint file ${this.path}: ${errorMessage(err)}`, err);
    });
    try {
      await this.writing;
      this.metrics?.checkpointWrites.inc();
    } finally {
      this.writing = undefined;
    }
  }

  private async writeAtomically(text: string): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const file = await open(tmp, 'w', 0o644);
    try {
      await file.writeFile(text, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, this.path);
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

/**
 * mkdir -p without Node's `recursive: true`, which spins forever at 100% CPU
 * in a libuv thread when a parent exists but cannot hold children: procfs
 * answers ENOENT for /proc/nope, Node's walk reads that as "parent missing",
 * creates the parent (EEXIST), retries, and so on (seen with
 * LOGAGENT_CHECKPOINT_DIR=/proc/nope: no log line, no exit). Here each
 * component is created once, top down, and the first real error is final.
 */
export async function makeDirectory(dir: string): Promise<void> {
  const full = resolve(dir);
  const parts = full.split(sep).filter((p) => p !== '');
  let current: string = sep;
  for (const part of parts) {
    current = join(current, part);
    try {
      await mkdir(current);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      if (!(await stat(current)).isDirectory()) {
        throw Object.assign(new Error(`ENOTDIR: ${current} exists and is not a directory`), { code: 'ENOTDIR' });
      }
    }
  }
}

export function parseCheckpointFile(text: string): Map<string, CheckpointEntry> {
  const data = JSON.parse(text) as unknown;
  if (typeof data !== 'object' || data === null) throw new Error('not a JSON object');
  const { version, files } = data as Partial<CheckpointFile>;
  if (typeof version !== 'number' || !READABLE_VERSIONS.has(version)) {
    throw new Error(`unsupported version ${String(version)} (expected ${FORMAT_VERSION})`);
  }
  if (typeof files !== 'object' || files === null) throw new Error('"files" is not an object');
  const entries = new Map<string, CheckpointEntry>();
  for (const [identity, value] of Object.entries(files)) {
    if (!/^\d+:\d+$/.test(identity)) throw new Error(`bad file identity "${identity}"`);
    const e = value as Partial<CheckpointEntry> | null;
    if (
      typeof e !== 'object' ||
      e === null ||
      typeof e.path !== 'string' ||
      !Number.isSafeInteger(e.offset) ||
      (e.offset as number) < 0 ||
      typeof e.tail !== 'string' ||
      typeof e.seenAt !== 'number' ||
      typeof e.head !== 'object' ||
      e.head === null ||
      !Number.isSafeInteger(e.head.length) ||
      typeof e.head.sha256 !== 'string' ||
      (e.input !== undefined && typeof e.input !== 'string') ||
      (e.source !== undefined && typeof e.source !== 'string') ||
      (e.finished !== undefined && typeof e.finished !== 'boolean')
    ) {
      throw new Error(`bad entry for "${identity}"`);
    }
    entries.set(identity, {
      path: e.path,
      offset: e.offset as number,
      head: { length: e.head.length, sha256: e.head.sha256 },
      tail: e.tail,
      seenAt: e.seenAt,
      ...(e.input === undefined ? {} : { input: e.input }),
      ...(e.source === undefined ? {} : { source: e.source }),
      ...(e.finished ? { finished: true } : {}),
    });
  }
  return entries;
}

// FileInput: one configured input (globs -> topic). It owns discovery (the
// periodic scan plus chokidar events as hints) and the FileReaders it opens,
// and decides where each new file starts. One reader per file identity
// across all inputs: `claims` is shared, so a file matched by two inputs is
// read once, by the input that found it first.

import { open, type FileHandle } from 'node:fs/promises';
import { watch, type FSWatcher } from 'chokidar';
import type pino from 'pino';
import type { InflightBudget } from '../budget.ts';
import type { CheckpointStore } from '../checkpoint/store.ts';
import type { InputConfig, ReaderConfig, RotatedConfig } from '../config/config.ts';
import { errnoCode, errorMessage } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { Sink } from '../sink/sink.ts';
import { PathMatcher } from './discovery.ts';
import { FileReader } from './file-reader.ts';
import { headMatches, isMissing, readAt, readHead, readTail, statHandle } from './identity.ts';
import { planStart, type StartPlan } from './start-plan.ts';

export interface FileInputOptions {
  input: InputConfig;
  reader: ReaderConfig;
  rotated: RotatedConfig;
  scanIntervalMs: number;
  budget: InflightBudget;
  sink: Sink;
  store: CheckpointStore;
  metrics: Metrics;
  logger: pino.Logger;
  claims: Map<string, FileReader>;
  /** Watch with chokidar (events as hints); off in tests that want the scan alone. */
  useEvents?: boolean;
}

/** How far back "start at end" looks for the start of the line being written. */
const LINE_START_WINDOW_BYTES = 64 * 1024;

export class FileInput {
  readonly config: InputConfig;
  private readonly o: FileInputOptions;
  private readonly matcher: PathMatcher;
  private readonly logger: pino.Logger;
  private readonly readers = new Set<FileReader>();
  private readonly byPath = new Map<string, FileReader>();
  private readonly unreadable = new Set<string>();
  private watchers: FSWatcher[] = [];
  private scanTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private rescanRequested = false;
  private firstScanDone = false;
  private discoveryStopped = false;

  constructor(options: FileInputOptions) {
    this.o = options;
    this.config = options.input;
    this.matcher = new PathMatcher(options.input.paths, options.input.exclude);
    this.logger = options.logger.child({ input: options.input.id });
  }

  /** Runs the first scan (files present now honour startAt), then keeps discovering. */
  async start(): Promise<void> {
    // Registered as the running scan, so that a scan requested meanwhile (a
    // rotation seen during it) waits instead of running alongside.
    this.scanning = this.scan().finally(() => {
      this.scanning = undefined;
    });
    await this.scanning;
    if (this.rescanRequested) {
      this.rescanRequested = false;
      this.requestScan();
    }
    if (this.o.useEvents ?? true) this.startWatching();
    this.scanTimer = setInterval(() => this.requestScan(), this.o.scanIntervalMs);
  }

  /** Open readers of this input. */
  get openReaders(): readonly FileReader[] {
    return [...this.readers];
  }

  /** Latest time any file of this input grew. */
  lastGrowth(): number {
    let latest = 0;
    for (const r of this.readers) latest = Math.max(latest, r.lastGrowth);
    return latest;
  }

  requestScan(): void {
    if (this.discoveryStopped) return;
    if (this.scanning) {
      this.rescanRequested = true;
      return;
    }
    this.scanning = this.scan()
      .catch((err: unknown) => this.logger.error({ err: errorMessage(err) }, 'scan failed; retrying at the next interval'))
      .finally(() => {
        this.scanning = undefined;
        if (this.rescanRequested) {
          this.rescanRequested = false;
          this.requestScan();
        }
      });
  }

  async scan(): Promise<void> {
    const presentAtStart = !this.firstScanDone;
    // A reader sees a rename at its next poll, or never while it waits on the
    // budget; a new file at the path must not wait for that, or a fast
    // rotation renames it away before it is opened. So every scan first
    // re-checks where each open file is (this also feeds the hold limits).
    for (const reader of this.readers) {
      await reader
        .refreshLocation()
        .catch((err: unknown) => this.logger.debug({ file: reader.path, err: errorMessage(err) }, 'cannot stat file'));
    }
    const paths = await this.matcher.list();
    for (const path of paths) {
      if (this.discoveryStopped) return;
      const current = this.byPath.get(path);
      if (current && !current.isDetached && !current.isClosed) continue;
      await this.openIfNew(path, presentAtStart);
    }
    this.firstScanDone = true;
    await this.enforceHoldLimits();
  }

  /** Stops finding new files (shutdown). */
  async stopDiscovery(): Promise<void> {
    this.discoveryStopped = true;
    if (this.scanTimer) clearInterval(this.scanTimer);
    this.scanTimer = undefined;
    await Promise.all(this.watchers.map((w) => w.close()));
    this.watchers = [];
    await this.scanning;
  }

  async stopReading(): Promise<void> {
    await Promise.all([...this.readers].map((r) => r.stopReading()));
  }

  async syncCheckpoints(): Promise<void> {
    for (const reader of this.readers) {
      try {
        await reader.syncCheckpoint();
      } catch (err) {
        this.logger.warn({ file: reader.path, err: errorMessage(err) }, 'cannot read checkpoint signature of file');
      }
    }
  }

  /** Closes discovery and every reader; idempotent. */
  async close(): Promise<void> {
    await this.stopDiscovery();
    await Promise.all([...this.readers].map((r) => r.close('shutdown')));
  }

  private startWatching(): void {
    for (const { dir, depth } of this.matcher.watchRoots()) {
      const watcher = watch(dir, { ignoreInitial: true, persistent: true, ...(depth === undefined ? {} : { depth }) });
      watcher.on('add', () => this.requestScan());
      watcher.on('unlink', () => this.requestScan());
      watcher.on('change', (path: string) => this.byPath.get(path)?.notify());
      watcher.on('error', (err: unknown) => {
        const hint =
          errnoCode(err) === 'ENOSPC'
            ? 'inotify watch limit reached (raise fs.inotify.max_user_watches); the periodic scan still finds files'
            : 'filesystem events unavailable; the periodic scan still finds files';
        this.logger.warn({ dir, err: errorMessage(err) }, hint);
      });
      this.watchers.push(watcher);
    }
  }

  private async openIfNew(path: string, presentAtStart: boolean): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if (isMissing(err)) return; // vanished between scan and open: expected
      if (!this.unreadable.has(path)) {
        this.unreadable.add(path);
        this.o.metrics.fileErrors.inc({ kind: 'open' });
        this.logger.error({ file: path, err: errorMessage(err) }, 'cannot open file; retrying at every scan');
      }
      return;
    }
    this.unreadable.delete(path);
    let handed = false;
    try {
      const facts = await statHandle(handle);
      // A glob such as /logs/* also matches directories, sockets, FIFOs:
      // expected, not an error, and never read.
      if (!facts.isFile) return;
      const claimed = this.o.claims.get(facts.key);
      if (claimed && !claimed.isClosed) {
        if (!claimed.isDetached) this.byPath.set(path, claimed);
        return;
      }
      const plan = await planFor(handle, path, facts.key, facts.size, presentAtStart, this.config.startAt, this.o.store);
      let offset = plan.offset;
      if (plan.action === 'start-at-end') offset = await lineStartBefore(handle, facts.size);
      if (plan.action === 'start-over' && plan.reason.startsWith('truncated')) this.o.metrics.truncations.inc();
      this.logger.info(
        { file: path, identity: facts.key, size: facts.size, offset, action: plan.action, reason: plan.reason },
        'tailing file',
      );
      const reader = new FileReader({
        path,
        key: facts.key,
        handle,
        startOffset: offset,
        head: await readHead(handle, facts.size),
        topic: this.config.topic,
        reader: this.o.reader,
        rotated: this.o.rotated,
        budget: this.o.budget,
        sink: this.o.sink,
        store: this.o.store,
        metrics: this.o.metrics,
        logger: this.logger,
        onClosed: (r) => this.forget(r),
        // Rename rotation: find the new file now, not at the next periodic
        // scan (chokidar reports a rename as a 'change' of the path, and its
        // 'add' of the renamed file comes throttled).
        onDetached: () => this.requestScan(),
      });
      handed = true;
      this.readers.add(reader);
      this.byPath.set(path, reader);
      this.o.claims.set(facts.key, reader);
      this.o.metrics.openFiles.set(this.o.claims.size);
      reader.start();
    } finally {
      if (!handed) await handle.close().catch(() => undefined);
    }
  }

  private forget(reader: FileReader): void {
    this.readers.delete(reader);
    if (this.byPath.get(reader.path) === reader) this.byPath.delete(reader.path);
    if (this.o.claims.get(reader.key) === reader) this.o.claims.delete(reader.key);
    this.o.metrics.openFiles.set(this.o.claims.size);
  }

  /**
   * Rotated and deleted files are held open until read and acknowledged, but
   * not beyond rotated.maxHoldMs, and deleted ones (which take disk space only
   * we keep alive) not beyond rotated.maxHoldBytes in total: past either
   * limit the oldest is given up, logged and counted. Runs from the scan, so
   * it also applies while readers wait on a spent budget.
   */
  private async enforceHoldLimits(): Promise<void> {
    const now = Date.now();
    for (const reader of [...this.readers]) {
      const since = reader.detachedSince;
      if (!reader.isClosed && since !== undefined && now - since > this.o.rotated.maxHoldMs) {
        await reader.abandon(`held longer than LOGAGENT_ROTATED_MAX_HOLD_MS (${this.o.rotated.maxHoldMs} ms)`);
      }
    }
    const deleted = [...this.readers].filter((r) => r.isDeleted && !r.isClosed);
    let held = deleted.reduce((sum, r) => sum + r.size, 0);
    deleted.sort((a, b) => (a.detachedSince ?? 0) - (b.detachedSince ?? 0));
    for (const reader of deleted) {
      if (held <= this.o.rotated.maxHoldBytes) return;
      held -= reader.size;
      await reader.abandon(`deleted files held open exceed LOGAGENT_ROTATED_MAX_HOLD_BYTES (${this.o.rotated.maxHoldBytes})`);
    }
  }
}

/** Where a file would start; shared with the `checkpoints` dry run. */
export async function planFor(
  handle: FileHandle,
  path: string,
  key: string,
  size: number,
  presentAtStart: boolean,
  startAt: InputConfig['startAt'],
  store: CheckpointStore,
): Promise<StartPlan> {
  const entry = store.get(key);
  let head = false;
  let tail = false;
  if (entry) {
    head = await headMatches(handle, size, entry.head);
    if (head && entry.offset <= size) tail = (await readTail(handle, entry.offset)).equals(Buffer.from(entry.tail, 'base64'));
  }
  return planStart({
    size,
    checkpointOffset: entry?.offset,
    headMatches: head,
    tailMatches: tail,
    presentAtStart,
    replacesTailedFile: entry === undefined && store.hasPath(path),
    startAt,
  });
}

/**
 * "Start at end" starts at the beginning of the line being written, so the
 * first line shipped is whole; if no newline is within the window, at the end.
 */
async function lineStartBefore(handle: FileHandle, size: number): Promise<number> {
  const from = Math.max(0, size - LINE_START_WINDOW_BYTES);
  const nl = (await readAt(handle, from, size - from)).lastIndexOf(0x0a);
  if (nl >= 0) return from + nl + 1;
  return from === 0 ? 0 : size;
}

// FileRegistry: the one owner of open files. Readers are keyed by file
// identity, whatever input found them and whatever path they were found at,
// so that a file matched by two inputs is read once, a rotated file keeps
// being read under its new name, and a configuration reload (which changes
// inputs, that is globs and routes) never reopens, re-reads or splits a
// file: it only changes the route of the next line.
//
// It also owns the lifecycle around the readers:
// - opening a matched path safely (regular files only, see open-file.ts)
//   at the position its checkpoint (or the input's startAt) says;
// - the read loop of each reader: polls while the file is active, waits for
//   an event, the scan or an acknowledgement while it is quiet;
// - closing files that stayed quiet (dormant: no descriptor, no timer) and
//   reopening them by identity when they grow, also after a rename;
// - finding, at start, unfinished files that were renamed away from the
//   watched paths while the agent was stopped;
// - the hold limits of rotated and deleted files;
// - recording each reader's acknowledged offset in the checkpoint store.
//
// Which input owns a file matched by several: the one listed first.

import { readdir, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type pino from 'pino';
import type { InflightBudget } from '../budget.ts';
import type { CheckpointStore } from '../checkpoint/store.ts';
import type { ReaderConfig, RotatedConfig, StartAt } from '../config/config.ts';
import { RateLimitedWarning } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Sink } from '../sink/sink.ts';
import { DirectoryEvents, type DirectoryEventKind } from './dir-events.ts';
import { FileReader, newSourceId, type CloseReason, type PollOutcome, type ReaderCheckpoint } from './file-reader.ts';
import type { Route } from './route.ts';
import { readHead, readTail, type FileFacts, type HeadSignature } from './identity.ts';
import { openRegularFile, statRegular, type NotRegularKind } from './open-file.ts';
import { ReadBufferPool } from './read-buffers.ts';
import { planFor } from './start-position.ts';

/** What an input is to the registry: a name, its rank among inputs, and where its files' lines go. */
export interface InputClaim {
  readonly name: string;
  /** Position in the configuration: the lower claims a file matched by several inputs. */
  readonly order: number;
  readonly route: Route;
  readonly startAt: StartAt;
}

export interface FileStatus {
  readonly path: string;
  readonly identity: string;
  readonly input: string | undefined;
  readonly state: 'reading' | 'rotated' | 'deleted' | 'finishing' | 'dormant';
  readonly size: number;
  readonly readOffset: number;
  readonly ackedOffset: number;
  readonly lagBytes: number;
}

export interface FileRegistryOptions {
  reader: ReaderConfig;
  rotated: RotatedConfig;
  budget: InflightBudget;
  sink: Sink;
  store: CheckpointStore;
  metrics: Metrics;
  logger: pino.Logger;
  now?: () => number;
  /** Run a read loop per reader (the agent). Off in tests that drive poll() themselves. */
  autoRun?: boolean;
  /** Watch directories for filesystem events (the agent). Off in tests. */
  events?: boolean;
  /** Something changed in a watched directory (a file appeared, was renamed or deleted): rescan it. */
  onDirectoryChange?: (dir: string) => void;
  /**
   * Persist the checkpoint store as soon as a file that appeared while
   * running is opened, so that a file created and renamed away within one
   * checkpoint interval is still known (and found again by identity) after
   * a crash. Files found by the first scan are persisted by the start-up
   * checkpoint instead (one write, not one per file).
   */
  persistOnOpen?: boolean;
}

interface DormantFile {
  readonly path: string;
  readonly input: string;
  /** Acknowledged offset at close: everything up to here was shipped. */
  readonly offset: number;
}

export class FileRegistry {
  private readonly o: FileRegistryOptions;
  private readonly logger: pino.Logger;
  private readonly now: () => number;
  private readonly readers = new Map<string, FileReader>();
  /** Input that owns each open or dormant file, by identity. */
  private readonly owners = new Map<string, string>();
  /** Identity last seen at each path. */
  private readonly atPath = new Map<string, string>();
  private readonly dormant = new Map<string, DormantFile>();
  private readonly opening = new Set<string>();
  private inputs = new Map<string, InputClaim>();
  private readonly skipped = new Set<string>();
  private readonly unreadable = new Set<string>();
  private readonly loops = new Set<Promise<void>>();
  private readonly events: DirectoryEvents | undefined;
  private discoveryDirs: ReadonlySet<string> = new Set();
  private readonly truncationWarning = new RateLimitedWarning('line longer than LOGAGENT_MAX_LINE_BYTES; shipped truncated');
  private readonly buffers: ReadBufferPool;
  private stopped = false;

  constructor(options: FileRegistryOptions) {
    this.o = options;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.buffers = new ReadBufferPool(options.reader.readChunkBytes);
    if (options.events) this.events = new DirectoryEvents((dir, kind, name) => this.onEvent(dir, kind, name), this.logger);
  }

  get openCount(): number {
    return this.readers.size;
  }

  get dormantCount(): number {
    return this.dormant.size;
  }

  /** Open readers (tests and status). */
  get openReaders(): FileReader[] {
    return [...this.readers.values()];
  }

  /** Directories with event watchers now (tests and diagnostics). */
  get watchedDirs(): string[] {
    return this.events?.watched ?? [];
  }

  /** Every one of `dirs` has an armed event watcher: changes there are seen at once, and the periodic scan is only the safety net. */
  eventsCover(dirs: readonly string[]): boolean {
    if (!this.events) return false;
    const watched = new Set(this.events.watched);
    return dirs.length > 0 && dirs.every((d) => watched.has(d));
  }

  /** Identities that must not be pruned from the checkpoint store. */
  liveIdentities(): Set<string> {
    return new Set([...this.readers.keys(), ...this.dormant.keys()]);
  }

  /**
   * The configured inputs, at start and after every reload. A file whose
   * input is gone finishes (read to its last complete line, acknowledged,
   * closed, checkpoint kept) unless another input claims it at its next
   * scan; a file whose input's route changed sends its next line there.
   */
  setInputs(claims: readonly InputClaim[]): void {
    this.inputs = new Map(claims.map((c) => [c.name, c]));
    for (const reader of this.readers.values()) {
      const claim = this.inputs.get(this.owners.get(reader.identity) ?? '');
      if (claim) {
        if (reader.route !== claim.route) reader.route = claim.route;
      } else if (!reader.isFinishing && !reader.isDetached) {
        this.owners.delete(reader.identity);
        reader.finish();
      }
    }
    for (const [identity, file] of this.dormant) {
      if (!this.inputs.has(file.input)) {
        this.dormant.delete(identity);
        this.owners.delete(identity);
      }
    }
    this.publishGauges();
  }

  /** Directories the inputs discover files in (their glob roots): watched for new files. */
  setDiscoveryDirs(dirs: ReadonlySet<string>): void {
    this.discoveryDirs = dirs;
    this.rearm();
  }

  /**
   * An input's scan matched `path`. Opens it if it is a regular file not
   * open yet, reopens it if it is dormant and grew, settles which input owns
   * it, and wakes its reader if it grew (the safety net for lost events).
   */
  async offer(path: string, claim: InputClaim, presentAtStart: boolean): Promise<void> {
    if (this.stopped) return;
    let seen;
    try {
      seen = await statRegular(path);
    } catch (err) {
      this.reportUnreadable(path, err);
      return;
    }
    if (seen.kind === 'missing') return;
    if (seen.kind === 'not-regular') {
      this.reportSkipped(path, seen.what);
      return;
    }
    const { identity, size } = seen.facts;
    const previous = this.atPath.get(path);
    this.atPath.set(path, identity);
    if (previous !== undefined && previous !== identity && this.dormant.has(previous)) {
      // The path names another file now: the dormant one was rotated (or
      // deleted) while closed. Writers may have appended before rotating.
      await this.recoverMovedDormant(previous, dirname(path));
    }

    const reader = this.readers.get(identity);
    if (reader) {
      this.claim(reader, claim);
      if (size !== reader.readOffset) reader.wake();
      return;
    }
    const dormant = this.dormant.get(identity);
    if (dormant) {
      if (dormant.input !== claim.name && this.outranks(claim, dormant.input)) {
        this.dormant.set(identity, { ...dormant, input: claim.name });
        this.owners.set(identity, claim.name);
      }
      if (size === dormant.offset) return; // nothing new: stay closed
    }
    await this.open(path, identity, this.owningClaim(identity, claim), { presentAtStart: dormant ? false : presentAtStart });
  }

  /**
   * After an input's scan:
   * - an open file of that input that is still at its path but no longer
   *   matched (its globs changed in a reload) finishes: read to its last
   *   complete line, acknowledged, closed, checkpoint kept, unless another
   *   input claims it at its next scan;
   * - dormant files of that input whose path no longer matched were renamed
   *   or deleted while closed: looked for in their directory once (a writer
   *   may have appended before rotating).
   */
  async afterScan(claim: InputClaim, matched: ReadonlySet<string>): Promise<void> {
    for (const reader of [...this.readers.values()]) {
      if (reader.isDetached || reader.isFinishing || reader.isClosed || matched.has(reader.path)) continue;
      if (this.owners.get(reader.identity) !== claim.name) continue;
      // Gone from the path is a rotation, which the reader handles; only a
      // file still there and no longer matched is finished.
      const seen = await statRegular(reader.path).catch(() => undefined);
      if (seen?.kind !== 'file' || seen.facts.identity !== reader.identity) continue;
      this.logger.info({ file: reader.path, input: claim.name }, 'file no longer matched by its input; finishing it (checkpoint kept)');
      this.owners.delete(reader.identity);
      reader.finish();
    }
    for (const [identity, file] of [...this.dormant]) {
      if (file.input !== claim.name || matched.has(file.path)) continue;
      if (this.atPath.get(file.path) === identity) this.atPath.delete(file.path);
      await this.recoverMovedDormant(identity, dirname(file.path));
    }
  }

  /**
   * Re-checks files whose reader is not polling itself (quiet, or waiting on
   * the budget during an outage): renames and deletions are seen and the
   * hold limits apply even when Kafka acknowledges nothing.
   */
  async refresh(): Promise<void> {
    const recentMs = this.o.reader.pollIntervalMs * 2;
    const now = this.now();
    for (const reader of [...this.readers.values()]) {
      if (reader.isClosed || now - reader.lastPollAt < recentMs) continue;
      await reader.refreshLocation().catch((err: unknown) => this.logger.debug({ file: reader.path, err }, 'cannot stat file'));
    }
    await this.enforceHoldLimits();
  }

  /**
   * Start-up: files with an unfinished checkpoint that no input matched are
   * looked for by identity in the given directories (the watched
   * directories and the ones they were last seen in). A file renamed out of
   * the globs while the agent was down (rename rotation right before a
   * crash) is found there and read to its end like any rotated file.
   */
  async recoverUnfinished(searchDirs: Iterable<string>): Promise<void> {
    const wanted = new Map<string, { path: string; input: string | undefined; offset: number }>();
    for (const [identity, entry] of this.o.store.entriesList()) {
      if (entry.finished || this.readers.has(identity) || this.dormant.has(identity)) continue;
      wanted.set(identity, { path: entry.path, input: entry.input, offset: entry.offset });
    }
    if (wanted.size === 0) return;
    const dirs = new Set(searchDirs);
    for (const w of wanted.values()) dirs.add(dirname(w.path));
    for (const dir of dirs) {
      for (const [identity, found] of await indexDirectory(dir, new Set(wanted.keys()))) {
        const w = wanted.get(identity);
        if (!w) continue;
        wanted.delete(identity);
        const claim = this.inputs.get(w.input ?? '') ?? this.firstInput();
        if (!claim) continue;
        if (found.size <= w.offset) continue;
        await this.open(found.path, identity, claim, { presentAtStart: true, detached: true, recovered: true });
      }
      if (wanted.size === 0) break;
    }
  }

  /** Records every open reader's acknowledged offset in the store (no disk write). */
  async syncCheckpoints(): Promise<void> {
    for (const reader of [...this.readers.values()]) {
      try {
        const cp = await reader.checkpoint();
        if (cp) this.record(reader, cp, false);
      } catch (err) {
        this.logger.warn({ file: reader.path, err }, 'cannot read checkpoint signature of file');
      }
    }
  }

  /** A filesystem event: the file at `path` may have grown; wake its reader or reopen it if dormant. */
  wakePath(path: string): void {
    const identity = this.atPath.get(path);
    if (identity === undefined) return;
    const reader = this.readers.get(identity);
    if (reader) {
      reader.wake();
      return;
    }
    const dormant = this.dormant.get(identity);
    const claim = dormant && this.inputs.get(dormant.input);
    if (claim) void this.offer(path, claim, false);
  }

  status(): FileStatus[] {
    const out: FileStatus[] = [];
    for (const r of this.readers.values()) {
      out.push({
        path: r.path,
        identity: r.identity,
        input: this.owners.get(r.identity) ?? r.route.input,
        state: r.state === 'closed' ? 'finishing' : r.state,
        size: r.size,
        readOffset: r.readOffset,
        ackedOffset: r.committedOffset,
        lagBytes: Math.max(0, r.size - r.committedOffset),
      });
    }
    for (const [identity, d] of this.dormant) {
      out.push({
        path: d.path,
        identity,
        input: d.input,
        state: 'dormant',
        size: d.offset,
        readOffset: d.offset,
        ackedOffset: d.offset,
        lagBytes: 0,
      });
    }
    return out;
  }

  /** Shutdown, step 1: no more reading; unfinished last lines are shipped. Readers stay open for the final checkpoint. */
  async stopReading(): Promise<void> {
    this.stopped = true;
    this.events?.close();
    await Promise.all([...this.readers.values()].map((r) => r.stopReading()));
    await Promise.all([...this.loops]);
  }

  /** Shutdown, last step: closes every file (recording final checkpoints). Idempotent. */
  async closeAll(): Promise<void> {
    this.stopped = true;
    this.events?.close();
    await Promise.all([...this.readers.values()].map((r) => r.close('shutdown')));
    await Promise.all([...this.loops]);
  }

  private async open(
    path: string,
    identity: string,
    claim: InputClaim,
    how: { presentAtStart: boolean; detached?: boolean; recovered?: boolean },
  ): Promise<void> {
    if (this.opening.has(identity) || this.readers.has(identity)) return;
    this.opening.add(identity);
    try {
      const opened = await openRegularFile(path);
      if (opened.kind === 'missing') return;
      if (opened.kind === 'not-regular') {
        this.reportSkipped(path, opened.what);
        return;
      }
      if (opened.kind === 'error') {
        this.reportUnreadable(path, opened.error);
        return;
      }
      this.unreadable.delete(path);
      const { handle, facts } = opened;
      let handed = false;
      try {
        if (facts.identity !== identity && this.readers.has(facts.identity)) return; // replaced since the stat, and open already
        const known = this.o.store.get(facts.identity) !== undefined;
        const plan = await planFor(handle, path, facts.identity, facts.size, how.presentAtStart, claim.startAt, this.o.store);
        // A renamed file at an unfinished checkpointed identity whose content
        // changed (truncated and rewritten before the rename, never seen by
        // the agent) is read from its start: skipping it loses those lines.
        if (how.detached && plan.action !== 'resume' && plan.action !== 'start-over') return;
        if (plan.action === 'start-over' && plan.reason.startsWith('truncated')) this.o.metrics.truncations.inc();
        this.logger.info(
          {
            file: path,
            identity: facts.identity,
            input: claim.name,
            size: facts.size,
            offset: plan.offset,
            action: plan.action,
            reason: plan.reason,
            ...(how.recovered ? { recovered: true } : {}),
          },
          how.recovered ? 'found an unfinished file renamed while the agent was stopped; reading it to its end' : 'tailing file',
        );
        if (how.recovered) this.o.metrics.recoveredFiles.inc();
        const head = await readHead(handle, facts.size);
        const tailBefore = await readTail(handle, plan.offset);
        // The content keeps its source id across restarts; new content (no checkpoint, or not the checkpointed content) gets a new one.
        const saved = plan.action === 'resume' ? this.o.store.get(facts.identity)?.source : undefined;
        const source = saved ?? newSourceId(facts.identity, this.now());
        const reader = this.createReader(path, facts, handle, plan.offset, head, tailBefore, source, claim, how.detached ?? false);
        handed = true;
        this.readers.set(facts.identity, reader);
        this.owners.set(facts.identity, claim.name);
        this.dormant.delete(facts.identity);
        if (!how.detached) this.atPath.set(path, facts.identity);
        this.publishGauges();
        // Record the start position at once: a file started at its end must
        // not be started at its (then later) end again if the agent dies
        // before the next checkpoint.
        const cp = await reader.checkpoint();
        if (cp) this.record(reader, cp, false);
        if (this.o.persistOnOpen && !known && !how.presentAtStart) {
          await this.o.store
            .persist()
            .catch((err: unknown) => this.logger.error({ err }, 'checkpoint write failed; retrying at the next interval'));
        }
        if (this.o.autoRun ?? false) this.runLoop(reader);
        this.rearm();
      } finally {
        if (!handed) await handle.close().catch(() => undefined);
      }
    } finally {
      this.opening.delete(identity);
    }
  }

  private createReader(
    path: string,
    facts: FileFacts,
    handle: FileHandle,
    offset: number,
    head: HeadSignature,
    tailBefore: Buffer,
    source: string,
    claim: InputClaim,
    detached: boolean,
  ): FileReader {
    return new FileReader({
      path,
      identity: facts.identity,
      handle,
      startOffset: offset,
      head,
      tailBefore,
      route: claim.route,
      source,
      reader: this.o.reader,
      rotated: this.o.rotated,
      budget: this.o.budget,
      sink: this.o.sink,
      metrics: this.o.metrics,
      logger: this.logger,
      truncationWarning: this.truncationWarning,
      buffers: this.buffers,
      now: this.now,
      detached,
      hooks: {
        onDetached: (r) => {
          if (this.atPath.get(r.path) === r.identity) this.atPath.delete(r.path);
          // Rename rotation: find the new file now, not at the next periodic scan.
          this.o.onDirectoryChange?.(dirname(r.path));
          this.rearm();
        },
        onActivityChange: () => this.rearm(),
        onClosed: (r, reason, cp) => this.onClosed(r, reason, cp),
      },
    });
  }

  private onClosed(reader: FileReader, reason: CloseReason, cp: ReaderCheckpoint | undefined): void {
    if (this.readers.get(reader.identity) === reader) this.readers.delete(reader.identity);
    const input = this.owners.get(reader.identity) ?? reader.route.input;
    if (reader.isDeleted) {
      // Its inode may be reused by an unrelated file.
      this.o.store.delete(reader.identity);
    } else if (cp) {
      this.record(reader, cp, reader.isDetached && reason === 'drained');
    }
    if (reason === 'idle' && cp && this.inputs.has(input)) {
      this.dormant.set(reader.identity, { path: reader.path, input, offset: cp.offset });
    } else {
      this.owners.delete(reader.identity);
    }
    this.publishGauges();
    this.rearm();
  }

  private record(reader: FileReader, cp: ReaderCheckpoint, finished: boolean): void {
    const input = this.owners.get(reader.identity) ?? reader.route.input;
    this.o.store.set(reader.identity, { ...cp, input, ...(finished ? { finished: true } : {}) });
  }

  private runLoop(reader: FileReader): void {
    const loop = (async () => {
      while (!reader.isClosed && !reader.isStopping) {
        let outcome: PollOutcome;
        try {
          outcome = await reader.poll();
        } catch (err) {
          if (reader.isStopping) break;
          this.o.metrics.fileErrors.inc({ kind: 'read' });
          this.logger.error({ file: reader.path, err }, 'error reading file; closing it (reopened from its checkpoint at the next scan)');
          await reader.close('error');
          break;
        }
        if (outcome === 'closed' || reader.isStopping) break;
        if (outcome === 'blocked') await this.o.budget.waitForRoom(reader.signal);
        else await reader.waker.wait(reader.nextCheckDelay(), reader.signal);
      }
    })();
    this.loops.add(loop);
    void loop.finally(() => this.loops.delete(loop));
  }

  /** The claim that owns `identity` after `claim` offered it: the first-listed input wins. */
  private owningClaim(identity: string, claim: InputClaim): InputClaim {
    const current = this.inputs.get(this.owners.get(identity) ?? '');
    return current && !this.outranks(claim, current.name) ? current : claim;
  }

  private outranks(claim: InputClaim, otherName: string): boolean {
    const other = this.inputs.get(otherName);
    return other === undefined || claim.order < other.order;
  }

  private claim(reader: FileReader, claim: InputClaim): void {
    const owner = this.owners.get(reader.identity);
    if (owner !== claim.name && (owner === undefined || this.outranks(claim, owner))) {
      if (owner !== undefined) {
        this.logger.info(
          { file: reader.path, input: claim.name, previousInput: owner },
          'file matched by several inputs; the first listed owns it',
        );
      }
      this.owners.set(reader.identity, claim.name);
      reader.route = claim.route;
    }
    if (reader.isFinishing && this.owners.get(reader.identity) === claim.name) reader.unfinish();
  }

  private firstInput(): InputClaim | undefined {
    let first: InputClaim | undefined;
    for (const c of this.inputs.values()) if (!first || c.order < first.order) first = c;
    return first;
  }

  private async recoverMovedDormant(identity: string, dir: string): Promise<void> {
    const file = this.dormant.get(identity);
    if (!file) return;
    this.dormant.delete(identity);
    this.owners.delete(identity);
    this.publishGauges();
    const found = (await indexDirectory(dir, new Set([identity]))).get(identity);
    const claim = this.inputs.get(file.input);
    if (!found || !claim || found.size <= file.offset) return;
    await this.open(found.path, identity, claim, { presentAtStart: false, detached: true });
  }

  /**
   * Rotated and deleted files are held open until read and acknowledged, but
   * not beyond rotated.maxHoldMs, and deleted ones (which take disk space only
   * we keep alive) not beyond rotated.maxHoldBytes in total: past either
   * limit the oldest is given up, logged and counted.
   */
  private async enforceHoldLimits(): Promise<void> {
    const now = this.now();
    for (const reader of [...this.readers.values()]) {
      const since = reader.detachedSince;
      if (!reader.isClosed && since !== undefined && now - since > this.o.rotated.maxHoldMs) {
        await reader.abandon(`held longer than LOGAGENT_ROTATED_MAX_HOLD_MS (${this.o.rotated.maxHoldMs} ms)`);
      }
    }
    const deleted = [...this.readers.values()].filter((r) => r.isDeleted && !r.isClosed);
    let held = deleted.reduce((sum, r) => sum + r.size, 0);
    deleted.sort((a, b) => (a.detachedSince ?? 0) - (b.detachedSince ?? 0));
    for (const reader of deleted) {
      if (held <= this.o.rotated.maxHoldBytes) return;
      held -= reader.size;
      await reader.abandon(`deleted files held open exceed LOGAGENT_ROTATED_MAX_HOLD_BYTES (${this.o.rotated.maxHoldBytes})`);
    }
  }

  private onEvent(dir: string, kind: DirectoryEventKind, name: string | null): void {
    if (name !== null) this.wakePath(join(dir, name));
    if (kind === 'rename' || name === null) this.o.onDirectoryChange?.(dir);
  }

  /**
   * Directory events are armed for discovery roots and for directories of
   * quiet and dormant files, and disarmed where a file is being written
   * (its reader polls; a poll also sees renames): under load, events would
   * cost a callback per write and tell nothing new.
   */
  private rearm(): void {
    if (!this.events || this.stopped) return;
    const busy = new Set<string>();
    const wanted = new Set(this.discoveryDirs);
    for (const r of this.readers.values()) {
      if (r.isDetached) continue;
      const dir = dirname(r.path);
      if (r.isActive) busy.add(dir);
      else wanted.add(dir);
    }
    for (const d of this.dormant.values()) wanted.add(dirname(d.path));
    for (const dir of busy) wanted.delete(dir);
    this.events.sync(wanted);
  }

  private publishGauges(): void {
    this.o.metrics.openFiles.set(this.readers.size);
    this.o.metrics.dormantFiles.set(this.dormant.size);
  }

  private reportSkipped(path: string, what: NotRegularKind): void {
    if (what === 'directory' || this.skipped.has(path)) return; // a glob such as /logs/* matches directories: expected
    this.skipped.add(path);
    this.o.metrics.skippedFiles.inc({ kind: what });
    this.logger.warn({ file: path, kind: what }, 'matched path is not a regular file; skipped (never opened)');
  }

  private reportUnreadable(path: string, err: unknown): void {
    if (this.unreadable.has(path)) return;
    this.unreadable.add(path);
    this.o.metrics.fileErrors.inc({ kind: 'open' });
    this.logger.error({ file: path, err }, 'cannot open file; retrying at every scan');
  }
}

/** Regular files in `dir` whose identity is in `wanted`, with their path and size. */
async function indexDirectory(dir: string, wanted: ReadonlySet<string>): Promise<Map<string, { path: string; size: number }>> {
  const found = new Map<string, { path: string; size: number }>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return found;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const seen = await statRegular(path);
      if (seen.kind === 'file' && wanted.has(seen.facts.identity)) found.set(seen.facts.identity, { path, size: seen.facts.size });
    } catch {
      // unreadable entries are not ours to report here
    }
    if (found.size === wanted.size) break;
  }
  return found;
}

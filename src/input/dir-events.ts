// Filesystem events for the directories that hold watched files: one
// non-recursive fs.watch (inotify) per directory. Events are hints that make
// the agent react at once instead of at the next scan; the periodic scan
// stays the truth (events are lost on overlay and network filesystems, and
// when the inotify limits are reached).
//
// Why not chokidar here: measured on this machine, chokidar 6 watching a
// directory of 2,000 files took 5.3 CPU-seconds during 8 s of a writer
// appending ~90,000 lines/s to one of them (it stats and reconciles on every
// change), fs.watch 2.2 s, and nothing at all once disarmed. The registry
// disarms a directory while one of its files is being written (it then
// polls that file every pollIntervalMs anyway, and a poll sees renames), so
// under load the event path costs nothing, and when everything is quiet
// the first write wakes the agent immediately. (chokidar still watches the
// configuration directory, where events are rare and its symlink handling
// earns its keep.)

import { watch, type FSWatcher } from 'node:fs';
import type pino from 'pino';
import { errnoCode } from '../errors.ts';

export type DirectoryEventKind = 'rename' | 'change';

export class DirectoryEvents {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly failed = new Set<string>();
  private readonly onEvent: (dir: string, kind: DirectoryEventKind, name: string | null) => void;
  private readonly logger: pino.Logger;
  private closed = false;

  constructor(onEvent: (dir: string, kind: DirectoryEventKind, name: string | null) => void, logger: pino.Logger) {
    this.onEvent = onEvent;
    this.logger = logger;
  }

  /** Directories watched now. */
  get watched(): string[] {
    return [...this.watchers.keys()];
  }

  /** Watches exactly `wanted`: opens the missing watchers, closes the others. */
  sync(wanted: ReadonlySet<string>): void {
    if (this.closed) return;
    for (const [dir, watcher] of this.watchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of wanted) if (!this.watchers.has(dir)) this.open(dir);
  }

  close(): void {
    this.closed = true;
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private open(dir: string): void {
    let watcher: FSWatcher;
    try {
      // persistent: false: a watcher never keeps the process alive on its own.
      watcher = watch(dir, { persistent: false }, (kind, name) => this.onEvent(dir, kind, name === null ? null : String(name)));
    } catch (err) {
      this.reportFailure(dir, err);
      return;
    }
    this.failed.delete(dir);
    watcher.on('error', (err) => {
      watcher.close();
      if (this.watchers.get(dir) === watcher) this.watchers.delete(dir);
      this.reportFailure(dir, err);
    });
    this.watchers.set(dir, watcher);
  }

  private reportFailure(dir: string, err: unknown): void {
    const code = errnoCode(err);
    // A directory that does not exist (yet) is expected: the scan finds it when it appears.
    if (code === 'ENOENT' || code === 'ENOTDIR' || this.failed.has(dir)) return;
    this.failed.add(dir);
    const hint =
      code === 'ENOSPC' || code === 'EMFILE'
        ? 'inotify limit reached (raise fs.inotify.max_user_watches / max_user_instances); the periodic scan still finds changes'
        : 'filesystem events unavailable for this directory; the periodic scan still finds changes';
    this.logger.warn({ dir, err }, hint);
  }
}

// Watches where the configuration file lives and says when to read it
// again. Two shapes:
//
// - A mounted ConfigMap: a directory whose visible names are symlinks
//   through `..data`, which the kubelet swaps atomically (it writes a new
//   timestamped directory, points `..data_tmp` at it and renames that over
//   `..data`). The file itself never changes in place, so the directory is
//   watched, the `..`-prefixed entries included, without following symlinks.
// - A plain file (docker run, a laptop): edited in place or replaced by a
//   rename; its directory is watched and events for its name count.
//
// Events only say "look again"; the reloader reads the text and compares
// its hash, so a burst of events costs one read. A watcher can miss an
// update (two swaps a millisecond apart leave chokidar on the old inode), so
// the caller also re-reads on a timer: that is the safety net, not events.

import { statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type pino from 'pino';

const DEBOUNCE_MS = 100;

export class ConfigFileWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly path: string;
  private readonly onChange: (reason: string) => void;
  private readonly logger: pino.Logger;

  constructor(path: string, onChange: (reason: string) => void, logger: pino.Logger) {
    this.path = path;
    this.onChange = onChange;
    this.logger = logger;
  }

  start(): void {
    let isDir = false;
    try {
      isDir = statSync(this.path).isDirectory();
    } catch {
      // Not there yet: watch its directory; the file appearing is an event too.
    }
    const dir = isDir ? this.path : dirname(this.path);
    const name = isDir ? undefined : basename(this.path);
    this.watcher = watch(dir, { ignoreInitial: true, followSymlinks: false, depth: 0, persistent: false });
    this.watcher.on('all', (event: string, changed: string) => {
      if (name !== undefined && basename(changed) !== name) return;
      this.schedule(`${event} ${changed}`);
    });
    this.watcher.on('error', (err: unknown) => {
      this.logger.warn({ dir, err }, 'configuration directory events unavailable; the periodic check still finds changes');
    });
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const watcher = this.watcher;
    this.watcher = undefined;
    await watcher?.close();
  }

  private schedule(reason: string): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.onChange(reason);
    }, DEBOUNCE_MS);
  }
}

// Discovery: which files an input's globs match right now. A full scan is
// the truth; filesystem events (chokidar) only make it sooner, because events
// are unreliable on overlay and network filesystems and inotify watches are
// limited. chokidar >= 4 no longer expands globs, so Node's fs.glob matches
// and chokidar watches the fixed directory prefix of each pattern.

import { glob } from 'node:fs/promises';
import { resolve, sep } from 'node:path';

const GLOB_CHARS = /[*?[\]{}]/;

export class PathMatcher {
  readonly patterns: readonly string[];
  readonly excludes: readonly string[];

  constructor(patterns: readonly string[], excludes: readonly string[], cwd = process.cwd()) {
    this.patterns = patterns.map((p) => resolve(cwd, p));
    this.excludes = excludes.map((p) => resolve(cwd, p));
  }

  /** Every pattern matches files of one fixed directory (globs only in the file name): events on the root directories cover them. */
  get isFlat(): boolean {
    return this.patterns.every((p) => !GLOB_CHARS.test(p.slice(0, p.lastIndexOf(sep))));
  }

  /** Paths matching the patterns and none of the excludes, sorted, each once. */
  async list(): Promise<string[]> {
    const found = new Set<string>();
    for await (const path of glob([...this.patterns], { exclude: [...this.excludes] })) found.add(path);
    return [...found].sort();
  }

  /** Directories to watch for events: the fixed prefix of each pattern, and how deep below it matches go. */
  watchRoots(): Array<{ dir: string; depth: number | undefined }> {
    const roots = new Map<string, number | undefined>();
    for (const pattern of this.patterns) {
      const parts = pattern.split(sep);
      const firstGlob = parts.findIndex((part) => GLOB_CHARS.test(part));
      // A plain path: watch its directory, one level.
      const fixed = firstGlob === -1 ? parts.slice(0, -1) : parts.slice(0, firstGlob);
      const rest = firstGlob === -1 ? 1 : parts.length - firstGlob;
      const dir = fixed.join(sep) || sep;
      const depth = pattern.includes('**') ? undefined : rest - 1;
      if (!roots.has(dir)) {
        roots.set(dir, depth);
      } else {
        // undefined means unlimited depth, which wins over any number.
        const prev = roots.get(dir);
        roots.set(dir, prev === undefined || depth === undefined ? undefined : Math.max(prev, depth));
      }
    }
    return [...roots].map(([dir, depth]) => ({ dir, depth }));
  }
}

// A directory updated exactly the way the kubelet updates a mounted
// ConfigMap (its AtomicWriter): the files are written into a new
// timestamped directory, a `..data_tmp` symlink pointing at it is renamed
// over `..data`, the visible names are symlinks through `..data`, and the
// old timestamped directory is removed.

import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';

export class ConfigMapDir {
  readonly dir: string;
  private generation = 0;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  /** One kubelet update: the whole content of the ConfigMap. */
  update(files: Record<string, string>): void {
    const stamp = `..${new Date().toISOString().replace(/[-:.TZ]/g, '_')}${this.generation++}`;
    const target = join(this.dir, stamp);
    mkdirSync(target);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(target, name), content);
    const dataLink = join(this.dir, '..data');
    const old = existsSync(dataLink) ? readlinkSync(dataLink) : undefined;
    const tmp = join(this.dir, '..data_tmp');
    symlinkSync(stamp, tmp);
    renameSync(tmp, dataLink);
    for (const name of Object.keys(files)) {
      const visible = join(this.dir, name);
      let exists = false;
      try {
        lstatSync(visible);
        exists = true;
      } catch {
        // first time
      }
      if (!exists) symlinkSync(join('..data', name), visible);
    }
    if (old !== undefined) rmSync(join(this.dir, old), { recursive: true, force: true });
  }
}

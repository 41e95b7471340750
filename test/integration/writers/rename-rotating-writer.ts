// A log writer run as a child process by tailing.test.ts, so that it and the
// agent really run concurrently. It appends numbered lines to <dir>/app.log
// and rotates by rename every `every` lines, like logrotate's default
// (create) scheme plus an app that reopens its log: delete app.log.<keep>,
// shift app.log.<k> -> app.log.<k+1>, rename app.log -> app.log.1, and the
// next append creates a new app.log.
//
// Usage: node rename-rotating-writer.ts <dir> <total> <every> <keep> <batch> <pauseMs>
// Prints one JSON line at the end: { written, rotations, ms }.

import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { appendNumbered } from '../helpers.ts';

const [dir, totalArg, everyArg, keepArg, batchArg, pauseArg] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: rename-rotating-writer.ts <dir> <total> <every> <keep> <batch> <pauseMs>');
const total = Number(totalArg);
const every = Number(everyArg);
const keep = Number(keepArg);
const batch = Number(batchArg);
const pauseMs = Number(pauseArg);
if (every % batch !== 0) throw new Error('every must be a multiple of batch');

const log = join(dir, 'app.log');
const rotated = (k: number): string => `${log}.${k}`;

function rotate(): void {
  rmSync(rotated(keep), { force: true });
  for (let k = keep - 1; k >= 1; k--) if (existsSync(rotated(k))) renameSync(rotated(k), rotated(k + 1));
  renameSync(log, rotated(1));
}

const startedAt = Date.now();
let rotations = 0;
for (let i = 0; i < total; i += batch) {
  if (i > 0 && i % every === 0) {
    rotate();
    rotations++;
  }
  appendNumbered(log, i, Math.min(i + batch, total));
  // Pacing: a real application writes over time; without it 200,000 lines
  // are written in well under a second and the storm is over before the
  // agent's first scan.
  await sleep(pauseMs);
}
process.stdout.write(`${JSON.stringify({ written: total, rotations, ms: Date.now() - startedAt })}\n`);

// `logagent checkpoints`: a dry run of a restart. For each file the
// configuration matches: its identity, size, saved offset and what a restart
// would do. Reads the checkpoint file; changes nothing.

import pino from 'pino';
import { CheckpointStore } from '../checkpoint/store.ts';
import { PathMatcher } from '../input/discovery.ts';
import { openRegularFile } from '../input/open-file.ts';
import { planFor } from '../input/start-position.ts';
import { configFromArgs, parseConfigArgs } from './options.ts';

interface Row {
  path: string;
  identity: string;
  size: number;
  checkpoint: number | null;
  action: string;
  offset: number;
  reason: string;
}

export async function checkpointsCommand(args: string[]): Promise<number> {
  const { values } = parseConfigArgs(args, { json: { type: 'boolean' } });
  const config = configFromArgs(values);
  const store = new CheckpointStore({ dir: config.checkpoint.dir, logger: pino({ level: 'silent' }) });
  await store.loadReadOnly();

  const rows: Row[] = [];
  const seen = new Set<string>();
  for (const input of config.inputs) {
    for (const path of await new PathMatcher(input.paths, input.exclude).list()) {
      const opened = await openRegularFile(path);
      if (opened.kind === 'missing') continue;
      if (opened.kind !== 'opened') {
        const reason =
          opened.kind === 'not-regular'
            ? `not a regular file (${opened.what}); never opened`
            : `cannot open: ${(opened.error as Error).message}`;
        if (opened.kind === 'not-regular' && opened.what === 'directory') continue;
        rows.push({ path, identity: '-', size: 0, checkpoint: null, action: 'skip', offset: 0, reason });
        continue;
      }
      const { handle, facts } = opened;
      try {
        if (seen.has(facts.identity)) continue;
        seen.add(facts.identity);
        const plan = await planFor(handle, path, facts.identity, facts.size, true, input.startAt, store);
        rows.push({
          path,
          identity: facts.identity,
          size: facts.size,
          checkpoint: store.get(facts.identity)?.offset ?? null,
          action: plan.action,
          offset: plan.offset,
          reason: plan.reason,
        });
      } finally {
        await handle.close();
      }
    }
  }
  for (const [identity, entry] of store.entriesList()) {
    if (seen.has(identity)) continue;
    rows.push({
      path: entry.path,
      identity,
      size: 0,
      checkpoint: entry.offset,
      action: 'none',
      offset: entry.offset,
      reason: entry.finished
        ? 'rotated away and read to its end; kept until pruned'
        : 'not matched now: looked for by identity in the watched directories at start (renamed while stopped), else kept until pruned',
    });
  }

  if (values.json) {
    process.stdout.write(`${JSON.stringify({ checkpointFile: store.path, files: rows }, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(`checkpoint file: ${store.path}\n`);
  const header = ['PATH', 'IDENTITY', 'SIZE', 'CHECKPOINT', 'ON RESTART', 'REASON'];
  const table = rows.map((r) => [
    r.path,
    r.identity,
    String(r.size),
    r.checkpoint === null ? '-' : String(r.checkpoint),
    r.action === 'none' ? '-' : `${r.action} @${r.offset}`,
    r.reason,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] ?? '').length)));
  for (const row of [header, ...table]) {
    process.stdout.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')}\n`);
  }
  return 0;
}

// Where reading of an opened file starts, from its checkpoint (if the file
// still holds the bytes the checkpoint was taken on) and the input's
// startAt. Shared by the agent and the `checkpoints` dry run, so the dry run
// cannot disagree with what the agent then does.

import type { FileHandle } from 'node:fs/promises';
import type { CheckpointStore } from '../checkpoint/store.ts';
import type { StartAt } from '../config/config.ts';
import { headMatches, readAt, readTail } from './identity.ts';
import { planStart, type StartPlan } from './start-plan.ts';

/** How far back "start at end" looks for the start of the line being written. */
const LINE_START_WINDOW_BYTES = 64 * 1024;

export async function planFor(
  handle: FileHandle,
  path: string,
  identity: string,
  size: number,
  presentAtStart: boolean,
  startAt: StartAt,
  store: CheckpointStore,
): Promise<StartPlan> {
  const entry = store.get(identity);
  let head = false;
  let tail = false;
  if (entry) {
    head = await headMatches(handle, size, entry.head);
    if (head && entry.offset <= size) tail = (await readTail(handle, entry.offset)).equals(Buffer.from(entry.tail, 'base64'));
  }
  const plan = planStart({
    size,
    checkpointOffset: entry?.offset,
    headMatches: head,
    tailMatches: tail,
    presentAtStart,
    replacesTailedFile: entry === undefined && store.hasPath(path),
    startAt,
  });
  if (plan.action === 'start-at-end') return { ...plan, offset: await lineStartBefore(handle, size) };
  return plan;
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

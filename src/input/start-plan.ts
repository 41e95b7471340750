// Where reading of a file starts: the one decision behind both a real start
// and the `logagent checkpoints` dry run, so the dry run cannot disagree with
// what the agent then does.

import type { StartAt } from '../config/config.ts';

export type StartAction = 'resume' | 'start-over' | 'start-at-end';

export interface StartPlan {
  readonly action: StartAction;
  readonly offset: number;
  readonly reason: string;
}

export interface StartFacts {
  readonly size: number;
  /** The file's checkpoint, if its identity has one. */
  readonly checkpointOffset: number | undefined;
  /** The file still starts with the bytes the checkpoint's signature was taken on. */
  readonly headMatches: boolean;
  /** The bytes just before the checkpoint offset are still the ones that were there. */
  readonly tailMatches: boolean;
  /** Found by the first scan after the agent started (not created while it ran). */
  readonly presentAtStart: boolean;
  /** Another file was checkpointed at this path: this one replaced it (rotation while the agent was down). */
  readonly replacesTailedFile: boolean;
  readonly startAt: StartAt;
}

export function planStart(f: StartFacts): StartPlan {
  if (f.checkpointOffset !== undefined) {
    if (f.checkpointOffset > f.size) {
      return { action: 'start-over', offset: 0, reason: 'truncated since the checkpoint (shorter than the saved offset)' };
    }
    if (!f.headMatches) return { action: 'start-over', offset: 0, reason: 'different file at the checkpointed inode' };
    if (!f.tailMatches) return { action: 'start-over', offset: 0, reason: 'content changed since the checkpoint' };
    return {
      action: 'resume',
      offset: f.checkpointOffset,
      reason: f.checkpointOffset === f.size ? 'up to date' : `${f.size - f.checkpointOffset} bytes to ship`,
    };
  }
  if (f.replacesTailedFile) {
    return { action: 'start-over', offset: 0, reason: 'replaced a tailed file at this path (rotated while stopped)' };
  }
  if (f.presentAtStart && f.startAt === 'end') {
    return { action: 'start-at-end', offset: f.size, reason: 'no checkpoint; LOGAGENT_START_AT=end' };
  }
  return {
    action: 'start-over',
    offset: 0,
    reason: f.presentAtStart ? 'no checkpoint; LOGAGENT_START_AT=beginning' : 'new file',
  };
}

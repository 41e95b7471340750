// Opening a matched path without ever blocking the agent. A glob can match a
// FIFO (open() of a FIFO blocks until a writer appears, and a read of a FIFO
// or a device such as /dev/stdout or /dev/zero never ends), and both would
// tie up one of libuv's four threads for good. So: stat first (following
// symlinks) and open regular files only, open with O_NONBLOCK so that a path
// swapped for a FIFO between the stat and the open cannot block either, and
// check the descriptor's fstat before reading a byte.

import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { isMissing, statHandle, identityOf, type FileFacts } from './identity.ts';

export type NotRegularKind = 'directory' | 'fifo' | 'socket' | 'character-device' | 'block-device' | 'other';

export type OpenOutcome =
  | { readonly kind: 'opened'; readonly handle: FileHandle; readonly facts: FileFacts }
  /** Vanished between the scan and the open: expected, never an error. */
  | { readonly kind: 'missing' }
  | { readonly kind: 'not-regular'; readonly what: NotRegularKind }
  | { readonly kind: 'error'; readonly error: unknown };

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/** stat() of a path: its identity and size if it is a regular file, else what it is. */
export async function statRegular(
  path: string,
): Promise<{ kind: 'file'; facts: FileFacts } | { kind: 'missing' } | { kind: 'not-regular'; what: NotRegularKind }> {
  try {
    const st = await stat(path, { bigint: true });
    if (!st.isFile()) return { kind: 'not-regular', what: kindOf(st) };
    return { kind: 'file', facts: { identity: identityOf(st.dev, st.ino), size: Number(st.size), nlink: Number(st.nlink) } };
  } catch (err) {
    if (isMissing(err)) return { kind: 'missing' };
    throw err;
  }
}

export async function openRegularFile(path: string): Promise<OpenOutcome> {
  try {
    const seen = await statRegular(path);
    if (seen.kind !== 'file') return seen;
  } catch (error) {
    return { kind: 'error', error };
  }
  let handle: FileHandle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (error) {
    if (isMissing(error)) return { kind: 'missing' };
    return { kind: 'error', error };
  }
  try {
    const facts = await statHandle(handle);
    if (!facts.isFile) {
      await handle.close();
      return { kind: 'not-regular', what: 'other' };
    }
    return { kind: 'opened', handle, facts: { identity: facts.identity, size: facts.size, nlink: facts.nlink } };
  } catch (error) {
    await handle.close().catch(() => undefined);
    return { kind: 'error', error };
  }
}

function kindOf(st: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): NotRegularKind {
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  return 'other';
}

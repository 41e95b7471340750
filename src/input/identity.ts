// File identity: device + inode, confirmed by content. The head signature is
// a hash of the file's first bytes, growing with the file up to
// HEAD_MAX_BYTES, so even a tiny file has one (no minimum size). The tail
// bytes are the few bytes just before a checkpoint offset: a checkpoint is
// trusted only if the file still holds them there, which catches a reused
// inode and a file truncated and rewritten while the agent was down.

import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { stat } from 'node:fs/promises';
import { errnoCode } from '../errors.ts';

export const HEAD_MAX_BYTES = 1024;
export const TAIL_BYTES = 32;

export interface FileFacts {
  /** "dev:ino": what checkpoints and open readers are keyed by. */
  readonly identity: string;
  readonly size: number;
  readonly nlink: number;
}

export interface HeadSignature {
  readonly length: number;
  readonly sha256: string;
}

export function identityOf(dev: bigint, ino: bigint): string {
  return `${dev}:${ino}`;
}

/** stat() of a path (following symlinks); undefined when it does not exist. */
export async function statPath(path: string): Promise<FileFacts | undefined> {
  try {
    const st = await stat(path, { bigint: true });
    if (!st.isFile()) return undefined;
    return { identity: identityOf(st.dev, st.ino), size: Number(st.size), nlink: Number(st.nlink) };
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

export async function statHandle(handle: FileHandle): Promise<FileFacts & { isFile: boolean; mtimeNs: bigint }> {
  const st = await handle.stat({ bigint: true });
  return { identity: identityOf(st.dev, st.ino), size: Number(st.size), nlink: Number(st.nlink), isFile: st.isFile(), mtimeNs: st.mtimeNs };
}

/** The path names nothing (any more): expected between a scan and an open, never an error. */
export function isMissing(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}

/** Up to `length` bytes at `position` (fewer at the end of the file). */
export async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

export async function readHead(handle: FileHandle, size: number): Promise<HeadSignature> {
  const bytes = await readAt(handle, 0, Math.min(size, HEAD_MAX_BYTES));
  return { length: bytes.length, sha256: sha256(bytes) };
}

/** Up to TAIL_BYTES bytes ending at `offset`. */
export async function readTail(handle: FileHandle, offset: number): Promise<Buffer> {
  const start = Math.max(0, offset - TAIL_BYTES);
  return readAt(handle, start, offset - start);
}

/** Does the file still start with the bytes the signature was taken on? */
export async function headMatches(handle: FileHandle, size: number, head: HeadSignature): Promise<boolean> {
  if (size < head.length) return false;
  const bytes = await readAt(handle, 0, head.length);
  return bytes.length === head.length && sha256(bytes) === head.sha256;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}

// The one place that decides what happened to an open file, from two
// observations: fstat of our open descriptor and stat of its path. Every
// reader decision (read more, start over, drain and close) follows from the
// answer, and the cases are tested as a table.

export type Location =
  /** The path still names our file. */
  | 'at-path'
  /** The path now names another file or nothing, but our file still has a name (renamed). */
  | 'rotated'
  /** Our file has no name left (unlinked); only our descriptor keeps it. */
  | 'deleted';

export type Content = 'grew' | 'truncated' | 'unchanged';

export interface Observation {
  readonly ownIdentity: string;
  readonly readOffset: number;
  /** fstat of the open descriptor. */
  readonly handle: { readonly size: number; readonly nlink: number };
  /** stat of the path; undefined when nothing is there. */
  readonly atPath: { readonly identity: string } | undefined;
}

export interface FileState {
  readonly location: Location;
  readonly content: Content;
}

export function reconcile(o: Observation): FileState {
  let location: Location;
  if (o.handle.nlink === 0) location = 'deleted';
  else if (o.atPath === undefined || o.atPath.identity !== o.ownIdentity) location = 'rotated';
  else location = 'at-path';

  let content: Content;
  if (o.handle.size < o.readOffset) content = 'truncated';
  else if (o.handle.size > o.readOffset) content = 'grew';
  else content = 'unchanged';

  return { location, content };
}

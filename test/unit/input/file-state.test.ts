import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reconcile, type FileState, type Observation } from '../../../src/input/file-state.ts';

const cases: Array<[string, Observation, FileState]> = [
  [
    'file grew at its path',
    { ownIdentity: '1:2', readOffset: 10, handle: { size: 20, nlink: 1 }, atPath: { identity: '1:2' } },
    { location: 'at-path', content: 'grew' },
  ],
  [
    'nothing new',
    { ownIdentity: '1:2', readOffset: 20, handle: { size: 20, nlink: 1 }, atPath: { identity: '1:2' } },
    { location: 'at-path', content: 'unchanged' },
  ],
  [
    'copytruncate: smaller than the read offset',
    { ownIdentity: '1:2', readOffset: 20, handle: { size: 3, nlink: 1 }, atPath: { identity: '1:2' } },
    { location: 'at-path', content: 'truncated' },
  ],
  [
    'renamed, a new file at the path',
    { ownIdentity: '1:2', readOffset: 20, handle: { size: 25, nlink: 1 }, atPath: { identity: '1:3' } },
    { location: 'rotated', content: 'grew' },
  ],
  [
    'renamed, nothing at the path yet',
    { ownIdentity: '1:2', readOffset: 20, handle: { size: 20, nlink: 1 }, atPath: undefined },
    { location: 'rotated', content: 'unchanged' },
  ],
  [
    'deleted with unread bytes',
    { ownIdentity: '1:2', readOffset: 20, handle: { size: 30, nlink: 0 }, atPath: undefined },
    { location: 'deleted', content: 'grew' },
  ],
  [
    'deleted and a new file at the path',
    { ownIdentity: '1:2', readOffset: 30, handle: { size: 30, nlink: 0 }, atPath: { identity: '1:9' } },
    { location: 'deleted', content: 'unchanged' },
  ],
];

for (const [name, observation, expected] of cases) {
  test(`reconcile: ${name}`, () => {
    assert.deepEqual(reconcile(observation), expected);
  });
}

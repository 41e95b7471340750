// The node flags the agent runs with are set in three places that must
// agree: the bin's shebang, the image's entrypoint, and the tests that start
// `node dist/cli.js` themselves.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BIN_NODE_FLAGS } from '../integration/helpers.ts';

const root = new URL('../../', import.meta.url);

test('the bin, the Dockerfile and the test helpers start node with the same flags', () => {
  const shebang = readFileSync(new URL('src/cli.ts', root), 'utf8').split('\n')[0] ?? '';
  assert.match(shebang, /^#!\/usr\/bin\/env -S node /);
  const binFlags = shebang.replace(/^#!\/usr\/bin\/env -S node /, '').split(' ');
  assert.deepEqual(binFlags, BIN_NODE_FLAGS);
  const entrypoint = /^ENTRYPOINT \[(.*)\]$/m.exec(readFileSync(new URL('Dockerfile', root), 'utf8'))?.[1] ?? '';
  const dockerArgs = JSON.parse(`[${entrypoint}]`) as string[];
  for (const flag of BIN_NODE_FLAGS) assert.ok(dockerArgs.includes(flag), `Dockerfile ENTRYPOINT passes ${flag}`);
  assert.ok(BIN_NODE_FLAGS.includes('--disable-warning=TimeoutNegativeWarning'));
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configTableMarkdown } from '../../../src/config/doc.ts';

test('the README configuration table is the one generated from the schema', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('\n', readme.indexOf('<!-- config-table:start')) + 1;
  const end = readme.indexOf('<!-- config-table:end -->');
  assert.ok(start > 0 && end > start, 'README has the config-table markers');
  assert.equal(readme.slice(start, end).trim(), configTableMarkdown().trim(), 'run `node scripts/readme-tables.ts`');
});

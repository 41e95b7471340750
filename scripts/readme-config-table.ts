// Rewrites the configuration table in README.md (between the config-table
// markers) from the schema: `node scripts/readme-config-table.ts`. A unit
// test fails when the two differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { configTableMarkdown } from '../src/config/doc.ts';

const path = new URL('../README.md', import.meta.url);
const readme = readFileSync(path, 'utf8');
const start = readme.indexOf('\n', readme.indexOf('<!-- config-table:start')) + 1;
const end = readme.indexOf('<!-- config-table:end -->');
if (start <= 0 || end < start) throw new Error('README.md lacks the config-table markers');
writeFileSync(path, `${readme.slice(0, start)}${configTableMarkdown().trim()}\n${readme.slice(end)}`);

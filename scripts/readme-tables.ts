// Rewrites the generated tables in README.md from the code: the
// configuration table (between the config-table markers, from the schema)
// and the metrics table (between the metrics-table markers, from the
// registry). `node scripts/readme-tables.ts`. Unit tests fail when README
// and code differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { configTableMarkdown } from '../src/config/doc.ts';
import { metricsTableMarkdown } from '../src/metrics-doc.ts';

const path = new URL('../README.md', import.meta.url);
let readme = readFileSync(path, 'utf8');

function replaceBlock(name: string, body: string): void {
  const start = readme.indexOf('\n', readme.indexOf(`<!-- ${name}:start`)) + 1;
  const end = readme.indexOf(`<!-- ${name}:end -->`);
  if (start <= 0 || end < start) throw new Error(`README.md lacks the ${name} markers`);
  readme = `${readme.slice(0, start)}${body.trim()}\n${readme.slice(end)}`;
}

replaceBlock('config-table', configTableMarkdown());
replaceBlock('metrics-table', await metricsTableMarkdown());
writeFileSync(path, readme);

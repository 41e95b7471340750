// Renders the configuration table of README.md from the schema, so the
// documentation lists exactly the keys the code knows.

import { schemaKeys } from './schema.ts';

export function formatDefault(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.join(',');
  if (value === '') return '(empty)';
  if (typeof value === 'object' && value !== null) return Object.keys(value).length === 0 ? '(none)' : JSON.stringify(value);
  return String(value);
}

export function configTableMarkdown(): string {
  const rows = schemaKeys().map(
    (k) =>
      `| ${k.env ? `\`${k.env}\`` : '(file only)'} | \`${k.key}\` | \`${formatDefault(k.default)}\` | ${k.doc.replace(/\|/g, '\\|')} |`,
  );
  return ['| env variable | file key | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

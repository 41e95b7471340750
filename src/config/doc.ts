// Renders the configuration table of README.md from the schema, so the
// documentation lists exactly the keys the code knows.

import { schema } from './schema.ts';

export interface KeyDoc {
  key: string;
  env: string;
  default: unknown;
  doc: string;
}

export function keyDocs(): KeyDoc[] {
  const out: KeyDoc[] = [];
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [name, value] of Object.entries(node)) {
      if (typeof value !== 'object' || value === null) continue;
      const key = prefix ? `${prefix}.${name}` : name;
      if ('doc' in value && 'default' in value) {
        const v = value as { doc: string; default: unknown; env?: string };
        out.push({ key, env: v.env ?? '', default: v.default, doc: v.doc });
      } else {
        walk(value as Record<string, unknown>, key);
      }
    }
  };
  walk(schema, '');
  return out;
}

export function formatDefault(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.join(',');
  if (value === '') return '(required)';
  return String(value);
}

export function configTableMarkdown(): string {
  const rows = keyDocs().map((k) => `| \`${k.env}\` | \`${k.key}\` | \`${formatDefault(k.default)}\` | ${k.doc.replace(/\|/g, '\\|')} |`);
  return ['| env variable | file key | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

// The README's metrics table, generated from the registry itself so that a
// metric cannot be added, renamed or relabelled without the table following
// (a unit test compares them). `node scripts/readme-tables.ts` rewrites it.

import { Metrics } from './metrics.ts';

export async function metricsTableMarkdown(): Promise<string> {
  const metrics = new Metrics();
  const rows = ['| metric | type | labels | meaning |', '| --- | --- | --- | --- |'];
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    const labels = new Set<string>();
    for (const v of m.values) for (const k of Object.keys(v.labels)) if (k !== 'le') labels.add(k);
    const declared = (metrics.registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] } | undefined)?.labelNames ?? [];
    for (const l of declared) labels.add(l);
    rows.push(`| \`${m.name}\` | ${m.type} | ${[...labels].map((l) => `\`${l}\``).join(', ') || '-'} | ${m.help} |`);
  }
  rows.push(
    "| `process_*`, `nodejs_*` | various | - | prom-client's default process and Node.js metrics: CPU seconds, resident memory, open file descriptors, heap by space, event loop lag, GC durations. |",
  );
  return rows.join('\n');
}

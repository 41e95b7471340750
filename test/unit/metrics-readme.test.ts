import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { metricsTableMarkdown } from '../../src/metrics-doc.ts';
import { LABEL_VALUES, Metrics } from '../../src/metrics.ts';

test('the README metrics table is the one generated from the registry', async () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('\n', readme.indexOf('<!-- metrics-table:start')) + 1;
  const end = readme.indexOf('<!-- metrics-table:end -->');
  assert.ok(start > 0 && end > start, 'README has the metrics-table markers');
  assert.equal(readme.slice(start, end).trim(), (await metricsTableMarkdown()).trim(), 'run `node scripts/readme-tables.ts`');
});

test('every counter with a fixed label set is exported from the start, at 0, for each label value', async () => {
  const text = await new Metrics().render();
  assert.match(text, /^logagent_lines_read_total 0$/m);
  for (const reason of LABEL_VALUES.closeReason)
    assert.match(text, new RegExp(`^logagent_files_closed_total\\{reason="${reason}"\\} 0$`, 'm'));
  for (const kind of LABEL_VALUES.skippedKind) assert.match(text, new RegExp(`^logagent_skipped_files_total\\{kind="${kind}"\\} 0$`, 'm'));
  assert.match(text, /^logagent_kafka_request_duration_seconds_count 0$/m);
  assert.match(text, /^logagent_inflight_bytes 0$/m);
});

test('two registries do not share state', async () => {
  const a = new Metrics();
  const b = new Metrics();
  a.linesRead.inc(5);
  assert.equal(await a.value(a.linesRead), 5);
  assert.equal(await b.value(b.linesRead), 0);
});

// bench/compare.ts's output: markdown tables (stdout, and the marked section
// of docs/benchmarks.md with --docs), an SVG chart written by hand (no
// plotting package), and the raw results as JSON.

import type { IdleResult, LatencyResult, ThroughputResult } from './scenarios.ts';
import { fmt, int } from './util.ts';

export interface Meta {
  date: string;
  commit: string;
  command: string;
  machine: string;
  broker: string;
  versions: Record<string, string>;
  settings: Record<string, string[]>;
  titles: Record<string, string>;
  corpora: Record<string, string>;
  /** The contender the ratio columns compare with all others. */
  reference: string;
}

export interface Results {
  meta: Meta;
  throughput: ThroughputResult[];
  latency: LatencyResult[];
  idle: IdleResult[];
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

function verified(r: ThroughputResult | LatencyResult): string {
  const v = r.verification;
  if (!v) return 'n/a';
  return v.ok ? 'OK' : `${int(v.missing)} missing, ${int(v.duplicates)} dup${v.malformed ? `, ${int(v.malformed)} malformed` : ''}`;
}

const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(2)}×` : 'n/a');

export function markdown(results: Results): string {
  const { meta } = results;
  const title = (name: string) => meta.titles[name] ?? name;
  const out: string[] = [];
  out.push(
    `Measured ${meta.date} on commit \`${meta.commit}\`; ${meta.machine}; ${meta.broker}. Command: \`${meta.command}\`. ` +
      'Load average (1, 5, 15 min) is shown before → after each contender.',
  );
  const groups = new Map<string, ThroughputResult[]>();
  for (const r of results.throughput) {
    const key = `${r.corpus} ${r.compression}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  for (const [key, rows] of groups) {
    const [corpus, compression] = key.split(' ') as [string, string];
    const ref = rows.find((r) => r.contender === meta.reference);
    out.push('', `**Throughput: ${meta.corpora[corpus] ?? corpus}, compression ${compression}, acks=all, 3 partitions**`, '');
    out.push(
      table(
        [
          '',
          'wall s',
          'lines/s',
          'MB/s',
          'CPU s',
          'CPU µs/line',
          'peak RSS MiB',
          'first ack s',
          'verified',
          `${title(meta.reference)} lines/s ÷ theirs`,
          `${title(meta.reference)} CPU/line ÷ theirs`,
          'load before → after',
        ],
        rows.map((r) =>
          r.skipped
            ? [title(r.contender), `skipped: ${r.skipped}`, '', '', '', '', '', '', '', '', '', '']
            : [
                title(r.contender),
                fmt(r.wallS, 2),
                int(r.linesPerS),
                fmt(r.mbPerS, 1),
                fmt(r.cpuS, 2),
                fmt(r.cpuUsPerLine, 2),
                fmt(r.peakRssMiB, 1),
                fmt(r.firstAckS, 3),
                verified(r),
                r === ref ? '1' : ratio(ref?.linesPerS, r.linesPerS),
                r === ref ? '1' : ratio(ref?.cpuUsPerLine, r.cpuUsPerLine),
                `${r.loadBefore} → ${r.loadAfter}`,
              ],
        ),
      ),
    );
  }
  if (results.latency.length) {
    out.push('', '**Latency: a writer appends 200-byte lines at a steady rate; write → broker LogAppendTime per line**', '');
    out.push(
      table(
        ['', 'lines/s', 'kept up', 'p50 ms', 'p99 ms', 'max ms', 'CPU % of a core', 'RSS MiB (peak)', 'verified', 'load before → after'],
        results.latency.map((r) =>
          r.skipped
            ? [title(r.contender), int(r.ratePerS), `skipped: ${r.skipped}`, '', '', '', '', '', '', '']
            : [
                title(r.contender),
                `${int(r.ratePerS)} (${int(r.writerRatePerS)} written/s, ${r.durationS} s)`,
                r.keptUp ? 'yes' : 'no',
                fmt(r.latency?.p50Ms, 1),
                fmt(r.latency?.p99Ms, 1),
                fmt(r.latency?.maxMs, 1),
                fmt(r.cpuPctOfCore, 1),
                `${fmt(r.rssMiB, 1)} (${fmt(r.peakRssMiB, 1)})`,
                verified(r),
                `${r.loadBefore} → ${r.loadAfter}`,
              ],
        ),
      ),
    );
    out.push(
      '',
      'Latency figures of a contender that did not keep up cover only the lines it delivered before it was stopped (5 s after the writer).',
    );
  }
  if (results.idle.length) {
    const idleS = results.idle.find((r) => r.idleS)?.idleS;
    out.push(
      '',
      `**Idle: start to first acknowledged line, then ${fmt((idleS ?? 0) / 60, 1)} quiet minutes with watched files (all contenders idle together)**`,
      '',
    );
    out.push(
      table(
        [
          '',
          'watched files',
          'start → first ack s',
          'start → all files acked s',
          'idle CPU % of a core',
          'wake-ups/s',
          'idle RSS MiB',
          'load before → after',
        ],
        results.idle.map((r) =>
          r.skipped
            ? [title(r.contender), `skipped: ${r.skipped}`, '', '', '', '', '', '']
            : [
                title(r.contender),
                String(r.files) + (r.note ? ` (${r.note})` : ''),
                fmt(r.firstAckS, 3),
                fmt(r.allAckS, 3),
                fmt(r.cpuPctOfCore, 3),
                fmt(r.wakeupsPerS, 1),
                fmt(r.rssMiB, 1),
                `${r.loadBefore} → ${r.loadAfter}`,
              ],
        ),
      ),
    );
  }
  out.push('', '**Versions**', '');
  for (const [name, v] of Object.entries(meta.versions)) out.push(`- ${title(name)}: ${v}`);
  return out.join('\n');
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Two panels of horizontal bars per throughput scenario: lines/s (longer is better) and CPU µs per line (shorter is better). */
export function svg(results: Results): string {
  const { meta } = results;
  const names = [...new Set(results.throughput.map((r) => r.contender))];
  const color = (name: string) => COLORS[names.indexOf(name) % COLORS.length] as string;
  const groups = new Map<string, ThroughputResult[]>();
  for (const r of results.throughput) {
    if (r.skipped || r.linesPerS === undefined) continue;
    const key = `${r.corpus} ${r.compression}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const bar = 16;
  const gap = 4;
  const groupGap = 30;
  const labelW = 230;
  const panelW = 330;
  const top = 70;
  const width = labelW + 2 * panelW + 80;
  let height = top;
  for (const rows of groups.values()) height += rows.length * (bar + gap) + groupGap + 18;
  height += 20 + Math.ceil(names.length / 3) * 18;
  const maxRate = Math.max(1, ...results.throughput.map((r) => r.linesPerS ?? 0));
  // One contender far above the rest (the classic agent's ~120 µs) would flatten every other bar:
  // the scale then ends at 1.2 × the next contender's largest value and that bar is cut (»).
  const cpuByContender = names.map((n) =>
    Math.max(0, ...results.throughput.filter((r) => r.contender === n).map((r) => r.cpuUsPerLine ?? 0)),
  );
  const [top1 = 1, top2 = 0] = [...cpuByContender].sort((a, b) => b - a);
  const maxCpu = Math.max(1e-9, top1 > 3 * top2 && top2 > 0 ? 1.2 * top2 : top1);
  const x1 = labelW;
  const x2 = labelW + panelW + 40;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">bench/compare: throughput, acks=all, 3 partitions (commit ${esc(meta.commit.split(' ')[0] ?? '')}, ${esc(meta.date)})</text>`,
    `<text x="10" y="38" fill="#555">${esc(meta.machine)}; shared machine: see the load averages in docs/benchmarks.md</text>`,
    `<text x="${x1}" y="${top - 10}" font-weight="bold">lines/s (longer is better)</text>`,
    `<text x="${x2}" y="${top - 10}" font-weight="bold">CPU µs per line (shorter is better)</text>`,
  );
  let y = top;
  for (const [key, rows] of groups) {
    const [corpus, compression] = key.split(' ') as [string, string];
    parts.push(
      `<text x="10" y="${y + 12}" font-weight="bold">${esc(meta.corpora[corpus] ?? corpus)}, compression ${esc(compression)}</text>`,
    );
    y += 18;
    for (const r of rows) {
      const w1 = ((r.linesPerS ?? 0) / maxRate) * (panelW - 70);
      const cut = (r.cpuUsPerLine ?? 0) > maxCpu;
      const w2 = (Math.min(r.cpuUsPerLine ?? 0, maxCpu) / maxCpu) * (panelW - 70);
      parts.push(
        `<text x="${x1 - 6}" y="${y + bar - 4}" text-anchor="end">${esc(meta.titles[r.contender] ?? r.contender)}</text>`,
        `<rect x="${x1}" y="${y}" width="${w1.toFixed(1)}" height="${bar}" fill="${color(r.contender)}"/>`,
        `<text x="${(x1 + w1 + 4).toFixed(1)}" y="${y + bar - 4}">${esc(int(r.linesPerS))}${r.verification && !r.verification.ok ? ' (!)' : ''}</text>`,
        `<rect x="${x2}" y="${y}" width="${w2.toFixed(1)}" height="${bar}" fill="${color(r.contender)}"/>`,
        `<text x="${(x2 + w2 + 4).toFixed(1)}" y="${y + bar - 4}">${cut ? '» ' : ''}${esc(fmt(r.cpuUsPerLine, 2))}</text>`,
      );
      y += bar + gap;
    }
    y += groupGap;
  }
  parts.push(
    `<text x="10" y="${y}" fill="#555">(!) = verification by consuming found missing or duplicated lines; » = bar cut at the scale's end.</text>`,
  );
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

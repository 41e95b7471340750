// Summary of a V8 CPU profile (`node --cpu-prof`) of LogAgent, printed by
// bench/compare.ts --cpu-prof: self time by area (kafkajs, other packages,
// LogAgent's dist/, Node internals, GC, idle), the top functions by self
// time, and the top JavaScript functions by total time.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './util.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export function summariseProfile(dir: string, top = 25): string[] {
  if (!existsSync(dir)) return ['no CPU profile written (did the agent exit cleanly?)'];
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return ['no .cpuprofile in ' + dir];
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const frameKey = (n: ProfileNode): string => {
    const { functionName, url, lineNumber } = n.callFrame;
    const short = url.replace(/^file:\/\//, '').replace(ROOT + '/', '');
    return `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim();
  };
  const inclusive = new Map<string, number>();
  const self = new Map<string, number>();
  const byArea = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    const { functionName, url } = node.callFrame;
    const short = url.replace(/^file:\/\//, '').replace(ROOT + '/', '');
    const key = frameKey(node);
    self.set(key, (self.get(key) ?? 0) + dt);
    const onStack = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur);
      if (!frame) break;
      const k = frameKey(frame);
      if (onStack.has(k)) continue;
      onStack.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
    const area =
      functionName === '(idle)'
        ? '(idle)'
        : /^\((program|garbage collector)\)$/.test(functionName)
          ? functionName
          : short.includes('node_modules/kafkajs')
            ? 'kafkajs'
            : short.includes('node_modules/')
              ? 'other node_modules'
              : short.startsWith('dist/')
                ? 'logagent (dist/)'
                : short.startsWith('node:')
                  ? 'node: internals'
                  : 'native/other';
    byArea.set(area, (byArea.get(area) ?? 0) + dt);
    total += dt;
  });
  const pct = (v: number) => ((100 * v) / total).toFixed(1).padStart(5) + '%';
  const out = [`profile ${join(dir, file)}: ${(total / 1e6).toFixed(2)} s sampled`];
  out.push('self time by area:');
  for (const [k, v] of [...byArea].sort((a, b) => b[1] - a[1])) out.push(`  ${pct(v)}  ${k}`);
  out.push(`top ${top} functions by self time:`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`  ${pct(v)}  ${k}`);
  out.push(`top ${top} JavaScript functions by total time (self + callees):`);
  const js = [...inclusive].filter(([k]) => /(node_modules|dist)\//.test(k)).sort((a, b) => b[1] - a[1]);
  for (const [k, v] of js.slice(0, top)) out.push(`  ${pct(v)}  ${k}`);
  return out;
}

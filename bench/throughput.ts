// The former logagent-vs-kcat throughput bench, now a shorthand for
// bench/compare.ts (which holds the harness, bench/contenders/ the
// shippers): LogAgent and kcat on the access-log corpus, throughput only.
//
//   node bench/throughput.ts [--lines N] [--compression none|lz4] [--agent-env K=V ...] [--cpu-prof] [compare.ts options]
//
// --agent-env is compare.ts's --logagent-env; every other option is passed
// through. See docs/benchmarks.md.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './lib/util.ts';

const args = process.argv.slice(2).map((a) => (a === '--agent-env' ? '--logagent-env' : a.replace(/^--agent-env=/, '--logagent-env=')));
const defaults = ['--only', 'logagent,kcat', '--scenarios', 'throughput', '--corpus', 'access'];
if (!args.some((a) => a.startsWith('--compression'))) defaults.push('--compression', 'none');
const result = spawnSync(process.execPath, [join(ROOT, 'bench', 'compare.ts'), ...defaults, ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);

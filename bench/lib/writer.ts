// Steady-rate log writer for the latency scenario, run as its own process so
// that the harness's polling never delays a write:
//
//   node bench/lib/writer.ts FILE RATE_PER_S DURATION_S LINE_BYTES
//
// Appends lines `seq=N t=EPOCH_MS <filler>` of LINE_BYTES bytes. Every 5 ms it
// writes the lines due by then in one append, each stamped with the time of
// that append (ms with µs decimals). Prints one JSON line when done: lines
// written, the achieved rate, and the worst lag behind the schedule.

import { closeSync, openSync, writeSync } from 'node:fs';

const [file, rateArg, durationArg, bytesArg] = process.argv.slice(2);
const rate = Number(rateArg);
const durationMs = Number(durationArg) * 1000;
const lineBytes = Number(bytesArg ?? 200);
if (!file || !(rate > 0) || !(durationMs > 0)) {
  process.stderr.write('usage: writer.ts FILE RATE_PER_S DURATION_S [LINE_BYTES]\n');
  process.exit(2);
}

const filler = 'x'.repeat(lineBytes);
const fd = openSync(file, 'a');
const start = performance.now();
const epoch0 = performance.timeOrigin + start;
let written = 0;
let maxLagLines = 0;

function tick(): void {
  const elapsed = performance.now() - start;
  const due = Math.min(Math.floor((rate * Math.min(elapsed, durationMs)) / 1000), Math.round((rate * durationMs) / 1000));
  if (due > written) {
    maxLagLines = Math.max(maxLagLines, due - written);
    const t = (epoch0 + (performance.now() - start)).toFixed(3);
    const parts: string[] = [];
    for (let n = written; n < due; n++) {
      const head = `seq=${n} t=${t} `;
      parts.push(head, filler.slice(0, Math.max(0, lineBytes - head.length)), '\n');
    }
    writeSync(fd, parts.join(''));
    written = due;
  }
  if (elapsed >= durationMs) {
    closeSync(fd);
    const tookMs = performance.now() - start;
    process.stdout.write(JSON.stringify({ written, ratePerS: (written * 1000) / tookMs, maxLagLines }) + '\n');
    return;
  }
  setTimeout(tick, 5);
}
tick();

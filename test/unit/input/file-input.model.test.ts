// Model-based test of discovery + reading: random sequences of appends,
// partial writes, rename rotations, deletions and recreations against real
// files, with a sink that acknowledges out of order. The model is the list of
// complete lines written; with no restarts and no copytruncate, every one of
// them must be delivered exactly once, and in order per file. A file is
// renamed or deleted only after the agent opened it (a file created and
// deleted between two scans is invisible to any shipper); from then on,
// nothing written to it may be lost.

import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import pino from 'pino';
import { InflightBudget } from '../../../src/budget.ts';
import { CheckpointStore } from '../../../src/checkpoint/store.ts';
import { FileInput } from '../../../src/input/file-input.ts';
import type { FileReader } from '../../../src/input/file-reader.ts';
import { Metrics } from '../../../src/metrics.ts';
import { FakeSink } from '../fake-sink.ts';
import { waitUntil } from '../wait.ts';

type Op =
  | { kind: 'append'; lines: number }
  | { kind: 'partial' }
  | { kind: 'rotate' }
  | { kind: 'delete-recreate' }
  | { kind: 'pause'; ms: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), lines: fc.integer({ min: 1, max: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('partial' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rotate' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete-recreate' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 0, max: 30 }) }) },
);

test('model: appends, partial writes, rotations and deletions deliver every line exactly once, in order', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), fc.integer({ min: 64, max: 4096 }), async (ops, budgetBytes) => {
      const dir = mkdtempSync(join(tmpdir(), 'logagent-model-'));
      const log = join(dir, 'app.log');
      writeFileSync(log, '');
      const sink = new FakeSink({ maxAckDelayMs: 4 });
      const metrics = new Metrics();
      const logger = pino({ level: 'silent' });
      const store = new CheckpointStore({ dir: join(dir, 'cp'), logger });
      await store.load();
      const input = new FileInput({
        input: { id: 'model', topic: 't', paths: [log], exclude: [], startAt: 'beginning' },
        reader: { maxLineBytes: 64, readChunkBytes: 97, pollIntervalMs: 5, partialLineTimeoutMs: 60_000 },
        rotated: { quietMs: 20, maxHoldMs: 60_000, maxHoldBytes: 1 << 30 },
        scanIntervalMs: 10,
        budget: new InflightBudget(budgetBytes),
        sink,
        store,
        metrics,
        logger,
        claims: new Map<string, FileReader>(),
        useEvents: false,
      });
      await input.start();
      const expected: string[] = [];
      /** The file generation each expected line was written to. */
      const genOf = new Map<string, number>();
      const expect = (line: string): void => {
        expected.push(line);
        genOf.set(line, generation);
      };
      let n = 0;
      let generation = 0;
      let partial = '';
      const opened = async (): Promise<void> => {
        const st = statSync(log, { bigint: true });
        const key = `${st.dev}:${st.ino}`;
        assert.ok(await waitUntil(() => input.openReaders.some((r) => r.key === key), 5_000), `file ${key} never opened`);
      };
      try {
        for (const o of ops) {
          switch (o.kind) {
            case 'append': {
              const parts: string[] = [];
              for (let i = 0; i < o.lines; i++) {
                const written = `g${generation}-l${n++}`;
                parts.push(`${written}\n`);
                expect(partial + written);
                partial = '';
              }
              // A pending partial is completed by the first appended line.
              appendFileSync(log, parts.join(''));
              break;
            }
            case 'partial': {
              const piece = `p${n++}-`;
              appendFileSync(log, piece);
              partial += piece;
              break;
            }
            case 'rotate':
              // Completes the partial first: a rotated writer finishes its line before reopening.
              if (partial) {
                appendFileSync(log, '\n');
                expect(partial);
                partial = '';
              }
              await opened();
              renameSync(log, join(dir, `app.log.${generation}`));
              generation++;
              writeFileSync(log, '');
              break;
            case 'delete-recreate':
              if (partial) {
                appendFileSync(log, '\n');
                expect(partial);
                partial = '';
              }
              await opened();
              unlinkSync(log);
              generation++;
              writeFileSync(log, '');
              break;
            case 'pause':
              await new Promise((r) => setTimeout(r, o.ms));
              break;
          }
        }
        if (partial) {
          appendFileSync(log, '\n');
          expect(partial);
          partial = '';
        }
        assert.ok(
          await waitUntil(() => sink.received.length >= expected.length, 10_000),
          `delivered ${sink.received.length} of ${expected.length}`,
        );
        await new Promise((r) => setTimeout(r, 30));
        const got = sink.values();
        assert.equal(new Set(got).size, got.length, 'no line delivered twice');
        assert.deepEqual(new Set(got), new Set(expected), 'every line delivered');
        // Order per file: the lines of each generation arrive in written order.
        const order = new Map<string, number>();
        expected.forEach((l, i) => order.set(l, i));
        const lastIndexByGen = new Map<number, number>();
        for (const line of got) {
          const gen = genOf.get(line) ?? -1;
          const idx = order.get(line) ?? -1;
          assert.ok(idx > (lastIndexByGen.get(gen) ?? -1), `order broken at ${line}`);
          lastIndexByGen.set(gen, idx);
        }
      } finally {
        await input.stopDiscovery();
        await input.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: Number(process.env.MODEL_RUNS ?? 60) },
  );
});

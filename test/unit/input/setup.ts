// Builds a FileRegistry and one Input over real files for unit tests of our
// reading logic, with the agent's own loops (read loop per file, periodic
// scan) but no filesystem events, and a FakeSink instead of Kafka.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import pino from 'pino';
import { InflightBudget } from '../../../src/budget.ts';
import { CheckpointStore } from '../../../src/checkpoint/store.ts';
import type { InputConfig, ReaderConfig, RotatedConfig } from '../../../src/config/config.ts';
import { Input } from '../../../src/input/input.ts';
import { FileRegistry } from '../../../src/input/registry.ts';
import { Metrics } from '../../../src/metrics.ts';
import { defaultRecordSettings } from '../../../src/config/schema.ts';
import { FakeSink } from '../fake-sink.ts';

export interface Setup {
  dir: string;
  registry: FileRegistry;
  input: Input;
  sink: FakeSink;
  metrics: Metrics;
  store: CheckpointStore;
  budget: InflightBudget;
}

export function tempDir(t: TestContext, prefix = 'logagent-unit-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startInput(
  t: TestContext,
  dir: string,
  o: {
    input: Partial<InputConfig> & { paths: string[] };
    reader?: Partial<ReaderConfig>;
    rotated?: Partial<RotatedConfig>;
    budgetBytes?: number;
    sink?: FakeSink;
    scanIntervalMs?: number;
  },
): Promise<Setup> {
  const sink = o.sink ?? new FakeSink();
  const metrics = new Metrics();
  const logger = pino({ level: 'silent' });
  const store = new CheckpointStore({ dir: join(dir, 'cp'), logger });
  await store.load();
  const budget = new InflightBudget(o.budgetBytes ?? 1 << 20);
  const registry = new FileRegistry({
    reader: {
      maxLineBytes: 1000,
      readChunkBytes: 4096,
      pollIntervalMs: 5,
      closeInactiveMs: 60_000,
      partialLineTimeoutMs: 60_000,
      ...o.reader,
    },
    rotated: { quietMs: 20, maxHoldMs: 60_000, maxHoldBytes: 1 << 30, ...o.rotated },
    budget,
    sink,
    store,
    metrics,
    logger,
    autoRun: true,
  });
  const input = new Input({
    config: { name: 'unit', topic: 't', exclude: [], startAt: 'beginning', ...defaultRecordSettings(), ...o.input },
    order: 0,
    registry,
    scanIntervalMs: o.scanIntervalMs ?? 10,
    logger,
    autoScan: true,
  });
  registry.setInputs([input.claim]);
  await input.start();
  t.after(async () => {
    await input.stop();
    await registry.closeAll();
  });
  return { dir, registry, input, sink, metrics, store, budget };
}

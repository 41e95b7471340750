// Bounded memory whatever the line length, with the broker down (issue:
// "never lose, never hang"). The in-flight budget charges what a line costs
// in memory, not only its bytes, so two million tiny lines cost as much as
// they weigh, and 100 KiB lines are held a few dozen at a time. Both tests
// run the agent with its defaults (LOGAGENT_INFLIGHT_MAX_BYTES 8 MiB),
// stop the only broker, append, sample RSS throughout, bring the broker
// back, and check that every line arrived, once, in order.

import assert from 'node:assert/strict';
import { appendFileSync, openSync, closeSync, writeSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  agentStarted,
  createTopic,
  freePort,
  kafkaClient,
  kafkaLocal,
  metric,
  ownCluster,
  rssBytes,
  scrape,
  startAgent,
  tmpDir,
  uniqueTopic,
  waitFor,
} from './helpers.ts';

const MiB = 1024 * 1024;
const RSS_LIMIT = 150 * MiB;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Samples the agent's RSS every 200 ms until stop(). */
function rssSampler(pid: number): { peak(): number; samples(): number[]; stop(): void } {
  const samples: number[] = [];
  const timer = setInterval(() => {
    try {
      samples.push(rssBytes(pid));
    } catch {
      // exited
    }
  }, 200);
  return { peak: () => Math.max(0, ...samples), samples: () => samples, stop: () => clearInterval(timer) };
}

/**
 * Reads the whole topic (one partition) and hands each value to `check`, in
 * order, without keeping the messages: millions of them would weigh more
 * than the agent under test.
 */
async function streamTopic(
  topic: string,
  bootstrap: string,
  expected: number,
  check: (value: Buffer, index: number) => void,
): Promise<number> {
  const consumer = kafkaClient(bootstrap).consumer({ groupId: `mem-${topic}`, maxBytes: 64 * MiB, maxWaitTimeInMs: 250 });
  let seen = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) check(m.value ?? Buffer.alloc(0), seen++);
      },
    });
    await waitFor(() => seen >= expected, 600_000, `${expected} messages consumed`);
    await sleep(1_000); // anything beyond `expected` would be a duplicate
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

async function highWatermark(topic: string, bootstrap: string): Promise<number> {
  const admin = kafkaClient(bootstrap).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

interface OutageRun {
  peakOutage: number;
  peakCatchUp: number;
  baseline: number;
  readDuringOutage: number;
  catchUpMs: number;
}

/** Starts the agent on an empty file, stops the broker, runs `write`, lets the agent fill its budget, restarts the broker and waits until everything is checkpointed. */
async function runOutage(
  t: TestContext,
  name: string,
  write: (log: string) => void,
): Promise<OutageRun & { topic: string; bootstrap: string }> {
  const { env: kenv, bootstrap } = await ownCluster(t, { KAFKA_LOCAL_PORT: '19092' }, 1);
  const dir = tmpDir(t);
  const topic = uniqueTopic(name);
  const log = join(dir, 'app.log');
  const cp = join(dir, 'cp');
  writeFileSync(log, '');
  await createTopic(topic, 1, 1, bootstrap);
  const port = await freePort();
  const agent = startAgent(t, {
    KAFKA_BROKERS: bootstrap,
    LOGAGENT_TOPIC: topic,
    LOGAGENT_PATHS: log,
    LOGAGENT_START_AT: 'beginning',
    LOGAGENT_CHECKPOINT_DIR: cp,
    LOGAGENT_HTTP_PORT: String(port),
    LOGAGENT_HTTP_HOST: '127.0.0.1',
  });
  await agentStarted(agent);
  const pid = agent.proc.pid as number;
  const baseline = rssBytes(pid);

  await kafkaLocal(['stop-node', '0'], kenv);
  const outage = rssSampler(pid);
  t.after(() => outage.stop());
  write(log);
  const size = statSync(log).size;
  // The agent reads until its budget is spent, then waits: give it time to
  // reach that plateau and sit on it.
  await sleep(15_000);
  const readDuringOutage = metric(await scrape(port), 'logagent_bytes_read_total');
  outage.stop();
  assert.equal(agent.proc.exitCode, null, 'the agent runs on while the broker is down');

  const catchUp = rssSampler(pid);
  t.after(() => catchUp.stop());
  const upAt = Date.now();
  await kafkaLocal(['start-node', '0'], kenv);
  await waitFor(
    async () => {
      const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as { files: Array<{ ackedOffset: number }> };
      return status.files[0]?.ackedOffset === size;
    },
    600_000,
    'every line acknowledged',
  );
  const catchUpMs = Date.now() - upAt;
  catchUp.stop();
  assert.equal(await agent.stop(), 0, 'SIGTERM after catching up exits 0');
  return { peakOutage: outage.peak(), peakCatchUp: catchUp.peak(), baseline, readDuringOutage, catchUpMs, topic, bootstrap };
}

const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;

test(
  '2,000,000 lines alternating empty and 1 byte while the broker is down: RSS stays under 150 MiB, then every line arrives once, in order',
  { timeout: 900_000 },
  async (t) => {
    const LINES = 2_000_000;
    const run = await runOutage(t, 'mem-tiny', (log) => {
      // "\n" then "x\n", a million times: 3,000,000 bytes.
      appendFileSync(log, '\nx\n'.repeat(LINES / 2));
    });
    t.diagnostic(
      `RSS: just started ${mib(run.baseline)}, peak with the broker down ${mib(run.peakOutage)} (read ${mib(run.readDuringOutage)} of 2.9 MiB meanwhile), peak while catching up ${mib(run.peakCatchUp)}; caught up in ${run.catchUpMs} ms`,
    );
    assert.ok(run.peakOutage < RSS_LIMIT, `RSS with the broker down ${mib(run.peakOutage)} < 150 MiB`);
    assert.ok(run.peakCatchUp < RSS_LIMIT, `RSS while catching up ${mib(run.peakCatchUp)} < 150 MiB`);
    assert.equal(await highWatermark(run.topic, run.bootstrap), LINES, 'exactly 2,000,000 records in the topic');
    let outOfOrder = 0;
    const seen = await streamTopic(run.topic, run.bootstrap, LINES, (value, i) => {
      if (value.toString() !== (i % 2 === 0 ? '' : 'x')) outOfOrder++;
    });
    assert.equal(seen, LINES, 'no line lost or repeated');
    assert.equal(outOfOrder, 0, 'empty and 1-byte lines alternate as written');
  },
);

test(
  '50,000 lines of 100 KiB while the broker is down: RSS stays under 150 MiB, then every line arrives once, in order',
  { timeout: 900_000 },
  async (t) => {
    const LINES = 50_000;
    const LINE_BYTES = 100 * 1024;
    const run = await runOutage(t, 'mem-long', (log) => {
      const fd = openSync(log, 'a');
      try {
        const filler = 'y'.repeat(LINE_BYTES);
        for (let i = 0; i < LINES; i++) {
          const head = `${i} `;
          writeSync(fd, `${head}${filler.slice(head.length + 1)}\n`);
        }
      } finally {
        closeSync(fd);
      }
    });
    t.diagnostic(
      `RSS: just started ${mib(run.baseline)}, peak with the broker down ${mib(run.peakOutage)} (read ${mib(run.readDuringOutage)} of 4.9 GiB meanwhile), peak while catching up ${mib(run.peakCatchUp)}; caught up in ${run.catchUpMs} ms`,
    );
    assert.ok(run.peakOutage < RSS_LIMIT, `RSS with the broker down ${mib(run.peakOutage)} < 150 MiB`);
    assert.ok(run.peakCatchUp < RSS_LIMIT, `RSS while catching up ${mib(run.peakCatchUp)} < 150 MiB`);
    assert.equal(await highWatermark(run.topic, run.bootstrap), LINES, 'exactly 50,000 records in the topic');
    let wrong = 0;
    const seen = await streamTopic(run.topic, run.bootstrap, LINES, (value, i) => {
      const space = value.indexOf(0x20);
      if (value.length !== LINE_BYTES - 1 || value.subarray(0, space).toString() !== String(i)) wrong++;
    });
    assert.equal(seen, LINES, 'no line lost or repeated');
    assert.equal(wrong, 0, 'every line whole and in order');
  },
);

// Live configuration from a mounted ConfigMap directory, updated exactly as
// the kubelet does it, against the real broker and the real agent process:
// no line lost or repeated across reloads; inputs added, removed and
// re-added; a topic changed mid-stream; bad updates rejected while shipping
// goes on; the environment beating the file, and saying so.

import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultRecordSettings } from '../../src/config/schema.ts';
import { ConfigMapDir } from './configmap-dir.ts';
import {
  agentStarted,
  appendNumbered,
  consumeAll,
  missing,
  runCli,
  startAgent,
  tally,
  tmpDir,
  uniqueTopic,
  waitFor,
  type AgentProcess,
  type Consumed,
} from './helpers.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface InputSpec {
  name: string;
  paths: string[];
  topic: string;
}

function yaml(inputs: InputSpec[], extra = ''): string {
  const lines = ['inputs:'];
  for (const i of inputs) {
    lines.push(
      `  - name: ${i.name}`,
      `    paths: [${i.paths.map((p) => JSON.stringify(p)).join(', ')}]`,
      `    topic: ${i.topic}`,
      '    startAt: beginning',
    );
  }
  return `${lines.join('\n')}\n${extra}`;
}

function applied(agent: AgentProcess): Array<Record<string, unknown>> {
  return agent.records().filter((r) => r.msg === 'configuration applied');
}

function exactlyOnce(messages: Consumed[], prefix: string, count: number, what: string): void {
  const counts = tally(messages, prefix);
  assert.deepEqual(missing(counts, 0, count).slice(0, 20), [], `${what}: missing`);
  const dups = [...counts].filter(([, n]) => n > 1).map(([i]) => i);
  assert.deepEqual(dups.slice(0, 20), [], `${what}: duplicated`);
}

/** Appends numbered lines to a file every few ms until stopped. */
function writer(path: string, prefix: string, perTick = 20, everyMs = 15): { stop(): Promise<number> } {
  let n = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      appendNumbered(path, n, n + perTick, prefix);
      n += perTick;
      await sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return n;
    },
  };
}

function agentEnv(dir: string, cm: string, extra: Record<string, string> = {}): Record<string, string> {
  return { LOGAGENT_CONFIG: cm, LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp'), ...extra };
}

test('20 kubelet-style ConfigMap swaps while two inputs ship: zero lines missing, zero duplicates', { timeout: 300_000 }, async (t) => {
  const dir = tmpDir(t);
  const cm = new ConfigMapDir(join(dir, 'cm'));
  const [a, b] = [join(dir, 'a.log'), join(dir, 'b.log')];
  writeFileSync(a, '');
  writeFileSync(b, '');
  const [ta, tb] = [uniqueTopic('swap-a'), uniqueTopic('swap-b')];
  const base: InputSpec[] = [
    { name: 'a', paths: [a], topic: ta },
    { name: 'b', paths: [b], topic: tb },
  ];
  cm.update({ 'config.yaml': yaml(base) });
  const agent = startAgent(t, agentEnv(dir, cm.dir));
  await agentStarted(agent);
  const wa = writer(a, 'a-');
  const wb = writer(b, 'b-');
  for (let i = 0; i < 20; i++) {
    // Every swap changes something: an input comes and goes, a reloadable key moves.
    const extra = i % 2 === 0 ? [{ name: 'c', paths: [join(dir, 'c-*.log')], topic: uniqueTopic('swap-c') }] : [];
    cm.update({ 'config.yaml': yaml([...base, ...extra], `shutdown:\n  quietMs: ${300 + i}\n`) });
    await sleep(250);
  }
  const [na, nb] = [await wa.stop(), await wb.stop()];
  const [ga, gb] = [await consumeAll(ta, { expected: na, timeoutMs: 120_000 }), await consumeAll(tb, { expected: nb, timeoutMs: 120_000 })];
  assert.equal(await agent.stop(), 0);
  t.diagnostic(`a: ${na} lines, b: ${nb} lines; configurations applied: ${applied(agent).length}`);
  exactlyOnce(ga, 'a-', na, 'input a');
  exactlyOnce(gb, 'b-', nb, 'input b');
  assert.ok(applied(agent).length >= 15, `most swaps were seen as they happened (${applied(agent).length} of 20)`);
});

test('two swaps 1 ms apart, then a third a second later: the third is applied, by events, well before the periodic check', async (t) => {
  const dir = tmpDir(t);
  const cm = new ConfigMapDir(join(dir, 'cm'));
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const topic = uniqueTopic('fast');
  cm.update({ 'config.yaml': yaml([{ name: 'app', paths: [log], topic }]) });
  const agent = startAgent(t, agentEnv(dir, cm.dir, { LOGAGENT_CONFIG_CHECK_INTERVAL_MS: '600000' }));
  await agentStarted(agent);
  cm.update({ 'config.yaml': yaml([{ name: 'app', paths: [log], topic }], 'shutdown:\n  quietMs: 301\n') });
  await sleep(1);
  cm.update({ 'config.yaml': yaml([{ name: 'app', paths: [log], topic }], 'shutdown:\n  quietMs: 302\n') });
  await sleep(1_000);
  const third = uniqueTopic('third');
  const changedAt = Date.now();
  cm.update({ 'config.yaml': yaml([{ name: 'app', paths: [log], topic: third }]) });
  const record = await agent.waitForLog((r) => r.msg === 'configuration applied' && JSON.stringify(r.inputs).includes(third), 10_000);
  t.diagnostic(`third swap applied ${Date.parse(String(record.time)) - changedAt} ms after it was written`);
  appendNumbered(log, 0, 5);
  const got = await consumeAll(third, { expected: 5 });
  exactlyOnce(got, 'line-', 5, 'lines after the third swap go to its topic');
  assert.equal(await agent.stop(), 0);
});

test(
  'adding an input ships its file; removing it stops it; adding it again resumes from its checkpoint with no duplicates',
  { timeout: 120_000 },
  async (t) => {
    const dir = tmpDir(t);
    const cm = new ConfigMapDir(join(dir, 'cm'));
    const [main, extra] = [join(dir, 'main.log'), join(dir, 'extra.log')];
    writeFileSync(main, '');
    appendNumbered(extra, 0, 100);
    const [tm, te] = [uniqueTopic('main'), uniqueTopic('extra')];
    const mainInput = { name: 'main', paths: [main], topic: tm };
    const extraInput = { name: 'extra', paths: [extra], topic: te };
    cm.update({ 'config.yaml': yaml([mainInput]) });
    const agent = startAgent(t, agentEnv(dir, cm.dir));
    await agentStarted(agent);

    cm.update({ 'config.yaml': yaml([mainInput, extraInput]) });
    await agent.waitForLog((r) => r.msg === 'tailing file' && r.file === extra, 10_000);
    await consumeAll(te, { expected: 100 });

    cm.update({ 'config.yaml': yaml([mainInput]) });
    await agent.waitForLog((r) => r.msg === 'configuration applied' && !JSON.stringify(r.inputs).includes('"extra"'), 10_000);
    await waitFor(
      () => agent.records().some((r) => r.msg === 'file closed' || r.msg === 'configuration applied'),
      5_000,
      'removal applied',
    );
    appendNumbered(extra, 100, 200); // written while no input matches it
    await sleep(1_500);
    const whileRemoved = await consumeAll(te, { expected: 100, settleMs: 500 });
    assert.equal(whileRemoved.length, 100, 'nothing shipped while the input was removed');

    cm.update({ 'config.yaml': yaml([mainInput, extraInput]) });
    const got = await consumeAll(te, { expected: 200, timeoutMs: 30_000 });
    exactlyOnce(got, 'line-', 200, 're-added input');
    assert.equal(await agent.stop(), 0);
  },
);

test(
  "changing an input's topic mid-stream: every line exactly once across the two topics, switching at a line boundary",
  { timeout: 120_000 },
  async (t) => {
    const dir = tmpDir(t);
    const cm = new ConfigMapDir(join(dir, 'cm'));
    const log = join(dir, 'app.log');
    writeFileSync(log, '');
    const [before, after] = [uniqueTopic('before'), uniqueTopic('after')];
    cm.update({ 'config.yaml': yaml([{ name: 'app', paths: [log], topic: before }]) });
    const agent = startAgent(t, agentEnv(dir, cm.dir));
    await agentStarted(agent);
    const w = writer(log, 'line-', 50, 10);
    await sleep(1_500);
    cm.update({ 'config.yaml': yaml([{ name: 'app', paths: [log], topic: after }]) });
    await agent.waitForLog((r) => r.msg === 'configuration applied', 10_000);
    await sleep(1_500);
    const n = await w.stop();
    const b = await consumeAll(before, { expected: 1, timeoutMs: 30_000 });
    const a = await consumeAll(after, { expected: n - b.length, timeoutMs: 60_000 });
    assert.equal(await agent.stop(), 0);
    t.diagnostic(`${n} lines: ${b.length} on the first topic, ${a.length} on the second`);
    exactlyOnce([...b, ...a], 'line-', n, 'both topics together');
    assert.ok(b.length > 0 && a.length > 0, 'both topics got lines');
    // The switch is one cut: every line on the first topic precedes every line on the second.
    const lastBefore = Math.max(...b.map((m) => Number(m.value.slice(5))));
    const firstAfter = Math.min(...a.map((m) => Number(m.value.slice(5))));
    assert.equal(firstAfter, lastBefore + 1, 'the new topic starts right after the last line of the old one');
  },
);

test(
  'bad updates (malformed YAML, unknown key, bad value) are rejected naming the line or key, shipping goes on, and the next valid one applies',
  { timeout: 120_000 },
  async (t) => {
    const dir = tmpDir(t);
    const cm = new ConfigMapDir(join(dir, 'cm'));
    const log = join(dir, 'app.log');
    writeFileSync(log, '');
    const topic = uniqueTopic('bad');
    const good = yaml([{ name: 'app', paths: [log], topic }]);
    cm.update({ 'config.yaml': good });
    const agent = startAgent(t, agentEnv(dir, cm.dir));
    await agentStarted(agent);
    const rejections = (): Array<Record<string, unknown>> =>
      agent.records().filter((r) => r.msg === 'configuration rejected; the running configuration stays');

    cm.update({ 'config.yaml': 'inputs:\n  - name: app\n    paths: [unclosed\n' });
    await waitFor(() => rejections().length === 1, 10_000, 'malformed YAML rejected');
    assert.match(JSON.stringify(rejections()[0]?.problems), /config\.yaml is not valid YAML: .* at line \d+, column \d+/);

    cm.update({ 'config.yaml': `${good}kafka:\n  akcs: all\n` });
    await waitFor(() => rejections().length === 2, 10_000, 'unknown key rejected');
    assert.match(JSON.stringify(rejections()[1]?.problems), /kafka\.akcs: unknown key/);

    cm.update({ 'config.yaml': yaml([{ name: 'app', paths: [log], topic: 'not a topic!' }]) });
    await waitFor(() => rejections().length === 3, 10_000, 'bad value rejected');
    assert.match(JSON.stringify(rejections()[2]?.problems), /inputs\[0\] \(app\)\.topic: must be a Kafka topic name/);

    appendNumbered(log, 0, 50);
    exactlyOnce(await consumeAll(topic, { expected: 50 }), 'line-', 50, 'shipping went on with the running configuration');

    const next = uniqueTopic('good-again');
    cm.update({ 'config.yaml': yaml([{ name: 'app', paths: [log], topic: next }]) });
    await agent.waitForLog((r) => r.msg === 'configuration applied' && JSON.stringify(r.inputs).includes(next), 10_000);
    appendNumbered(log, 0, 10, 'after-');
    exactlyOnce(await consumeAll(next, { expected: 10 }), 'after-', 10, 'the next valid update applied');
    assert.equal(agent.records().filter((r) => r.msg === 'configuration rejected; the running configuration stays').length, 3);
    assert.equal(await agent.stop(), 0);
  },
);

test('a key set in the file and in the environment: the environment wins, and the override is reported at every load', async (t) => {
  const dir = tmpDir(t);
  const cm = new ConfigMapDir(join(dir, 'cm'));
  const log = join(dir, 'app.log');
  writeFileSync(log, '');
  const topic = uniqueTopic('override');
  cm.update({ 'config.yaml': yaml([{ name: 'app', paths: [log], topic }], 'kafka:\n  acks: "1"\n') });
  const agent = startAgent(t, agentEnv(dir, cm.dir, { KAFKA_ACKS: 'all' }));
  await agentStarted(agent);
  const overrides = (): Array<Record<string, unknown>> =>
    agent.records().filter((r) => r.msg === 'a key set in the configuration is overridden by the environment; the environment wins');
  assert.equal(overrides().length, 1);
  assert.equal(overrides()[0]?.key, 'kafka.acks');
  assert.equal(overrides()[0]?.env, 'KAFKA_ACKS');
  cm.update({ 'config.yaml': yaml([{ name: 'app', paths: [log], topic }], 'kafka:\n  acks: "0"\n') });
  await waitFor(() => overrides().length === 2, 10_000, 'the override reported again at the reload');
  assert.equal(await agent.stop(), 0);
});

test('check-config on a ConfigMap directory prints the effective inputs and names environment overrides', async (t) => {
  const dir = tmpDir(t);
  const cm = new ConfigMapDir(join(dir, 'cm'));
  cm.update({
    'config.yaml': yaml(
      [{ name: 'web', paths: ['/logs/web-*.log'], topic: 'web_log' }],
      'kafka:\n  brokers: "k1:9092,k2:9092"\n  acks: "1"\n',
    ),
  });
  const result = await runCli(['check-config', '--config', cm.dir], { KAFKA_ACKS: 'all' });
  assert.equal(result.code, 0, result.stderr);
  const config = JSON.parse(result.stdout) as {
    inputs: Array<{ name: string; topic: string; paths: string[]; startAt: string }>;
    kafka: { brokers: string[]; acks: string };
  };
  assert.deepEqual(config.inputs, [
    { name: 'web', topic: 'web_log', paths: ['/logs/web-*.log'], exclude: [], startAt: 'beginning', ...defaultRecordSettings() },
  ]);
  assert.deepEqual(config.kafka.brokers, ['k1:9092', 'k2:9092']);
  assert.equal(config.kafka.acks, 'all');
  assert.match(result.stderr, /kafka\.acks is set in .*config\.yaml and overridden by the environment \(KAFKA_ACKS\)/);
});

test(
  'changing the kafka section while shipping: the old producer drains, a new one takes over, no line lost or repeated',
  { timeout: 120_000 },
  async (t) => {
    const dir = tmpDir(t);
    const cm = new ConfigMapDir(join(dir, 'cm'));
    const log = join(dir, 'app.log');
    writeFileSync(log, '');
    const topic = uniqueTopic('producer-swap');
    const inputs = [{ name: 'app', paths: [log], topic }];
    cm.update({ 'config.yaml': yaml(inputs, 'kafka:\n  compression: none\n') });
    const agent = startAgent(t, agentEnv(dir, cm.dir));
    await agentStarted(agent);
    const w = writer(log, 'line-', 100, 5);
    await sleep(1_000);
    cm.update({ 'config.yaml': yaml(inputs, 'kafka:\n  compression: gzip\n  clientId: logagent-swapped\n') });
    await agent.waitForLog((r) => r.msg === 'kafka producer replaced', 30_000);
    await sleep(1_000);
    const n = await w.stop();
    const got = await consumeAll(topic, { expected: n, timeoutMs: 60_000 });
    assert.equal(await agent.stop(), 0);
    exactlyOnce(got, 'line-', n, 'across the producer swap');
    // Order holds within the partition: the new producer started after the old one drained.
    const numbers = got.map((m) => Number(m.value.slice(5)));
    assert.deepEqual(
      numbers,
      [...numbers].sort((x, y) => x - y),
      'in order',
    );
    appendFileSync(log, '');
  },
);

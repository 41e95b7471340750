// The native producer against a real broker: what arrives is read back by
// kcat (librdkafka), a decoder that is not ours, and compared line by line.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import type { CompressionName, PartitionerName } from '../../src/config/config.ts';
import {
  brokers,
  consumeAllRaw,
  createTopic,
  freePort,
  javaPartition,
  kcatPath,
  partitionCount,
  storedCodecs,
  uniqueTopic,
  waitFor,
  type RawConsumed,
} from './helpers.ts';
import { assertExactlyOnceInOrder, lineNumber, numberedLines, sendLines, startSink } from './native-helpers.ts';

const KCAT = kcatPath();

/** The whole topic read by kcat: partition, headers and value of every message, in order per partition. */
async function kcatMessages(topic: string, bootstrap = brokers()): Promise<RawConsumed[]> {
  assert.ok(KCAT, 'kcat is installed (apt-get install kcat)');
  const { stdout } = await promisify(execFile)(KCAT, ['-C', '-b', bootstrap, '-t', topic, '-e', '-q', '-f', '%p\t%o\t%k\t%h\t%s\n'], {
    timeout: 60_000,
    maxBuffer: 512 * 1024 * 1024,
    encoding: 'buffer',
  });
  const out: RawConsumed[] = [];
  for (const line of stdout.toString('latin1').split('\n')) {
    if (line === '') continue;
    const [p, offset, key, h, ...rest] = line.split('\t');
    const headers: Record<string, Buffer> = {};
    if (h) for (const kv of h.split(',')) headers[kv.slice(0, kv.indexOf('='))] = Buffer.from(kv.slice(kv.indexOf('=') + 1), 'latin1');
    out.push({
      partition: Number(p),
      offset: offset ?? '',
      timestamp: 0,
      key: Buffer.from(key ?? '', 'latin1'),
      value: Buffer.from(rest.join('\t'), 'latin1'),
      headers,
    });
  }
  return out;
}

async function delivered(sink: { drain(signal?: AbortSignal): Promise<void> }, timeoutMs = 30_000): Promise<void> {
  await sink.drain(AbortSignal.timeout(timeoutMs));
}

for (const acks of ['all', '1', '0'] as const) {
  test(`acks=${acks}: every line arrives once, byte-identical, in order per partition, and every batch is acknowledged`, async (t) => {
    const topic = uniqueTopic(`native-acks${acks}`);
    // acks=0 gets no answer: a write the broker refuses (a partition whose leader is still starting right after
    // the topic was created) is lost without a word, so that mode gets a topic made and settled beforehand.
    if (acks === '0') await createTopic(topic, 3);
    const { sink, metrics } = startSink(t, { acks, partitioner: 'round-robin' });
    const lines = numberedLines(0, 30_000, 40);
    const { owner, batches } = sendLines(sink, topic, lines, { linesPerBatch: 333 });
    await delivered(sink);
    assert.equal(owner.acked.length, batches.length, 'each batch acknowledged once');
    assert.equal(sink.pendingLines, 0);
    assert.equal(await metrics.value(metrics.linesAcked), lines.length);
    const got = await kcatMessages(topic);
    assertExactlyOnceInOrder(got, lines.length);
    const byNumber = new Map(got.map((m) => [lineNumber(m.value), m.value?.toString()]));
    assert.ok(
      lines.every((l, i) => byNumber.get(i) === l),
      'values byte-identical',
    );
  });
}

for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as CompressionName[]) {
  test(`${codec}: batches are stored compressed and kcat reads every line back`, async (t) => {
    const topic = uniqueTopic(`native-${codec}`);
    const { sink } = startSink(t, { compression: codec, partitioner: 'round-robin' });
    const lines = numberedLines(0, 20_000, 150);
    sendLines(sink, topic, lines, { linesPerBatch: 500 });
    await delivered(sink);
    const got = await kcatMessages(topic);
    assertExactlyOnceInOrder(got, lines.length);
    assert.ok(got.every((m) => m.value?.toString() === lines[lineNumber(m.value)]));
    const codecs = storedCodecs(topic);
    if (codecs) assert.deepEqual([...codecs], [codec], 'record batches carry the codec');
  });
}

test('hash: every line of a key goes to the partition the Java producer picks; manual: to the configured one', async (t) => {
  const hashTopic = uniqueTopic('native-hash');
  const manualTopic = uniqueTopic('native-manual');
  const hash = startSink(t, { partitioner: 'hash' });
  const manual = startSink(t, { partitioner: 'manual', partition: 2 });
  const keys = ['/var/log/a.log', '/var/log/b.log', '/var/log/c.log', '/var/log/d.log'];
  for (const [k, key] of keys.entries()) sendLines(hash.sink, hashTopic, numberedLines(k * 1000, (k + 1) * 1000), { key });
  sendLines(manual.sink, manualTopic, numberedLines(0, 3000));
  await Promise.all([delivered(hash.sink), delivered(manual.sink)]);
  const got = await kcatMessages(hashTopic);
  assertExactlyOnceInOrder(got, 4000);
  for (const m of got) assert.equal(m.partition, javaPartition(m.key?.toString() ?? '', 3), `key ${m.key?.toString()}`);
  const manualGot = await kcatMessages(manualTopic);
  assertExactlyOnceInOrder(manualGot, 3000);
  assert.ok(manualGot.every((m) => m.partition === 2));
});

for (const partitioner of ['round-robin', 'random'] as PartitionerName[]) {
  test(`${partitioner}: lines spread over every partition, in order within each`, async (t) => {
    const topic = uniqueTopic(`native-${partitioner}`);
    const { sink } = startSink(t, { partitioner });
    sendLines(sink, topic, numberedLines(0, 9000), { linesPerBatch: 100 });
    await delivered(sink);
    const got = await kcatMessages(topic);
    assertExactlyOnceInOrder(got, 9000);
    const per = [0, 1, 2].map((p) => got.filter((m) => m.partition === p).length);
    if (partitioner === 'round-robin') assert.deepEqual(per, [3000, 3000, 3000]);
    else
      assert.ok(
        per.every((n) => n > 2000),
        `spread ${per.join('/')}`,
      );
  });
}

test('a missing topic is created with the configured partitions; with topic creation off the error names the topic and KAFKA_TOPIC_CREATE, and creating it is enough', async (t) => {
  const created = uniqueTopic('native-create');
  const a = startSink(t, { topicPartitions: 4 });
  sendLines(a.sink, created, numberedLines(0, 100));
  await delivered(a.sink);
  assert.equal(await partitionCount(created), 4);
  assert.ok(a.logs.some((l) => l.msg === 'creating topic' && l.topic === created));

  const missing = uniqueTopic('native-missing');
  const b = startSink(t, { topicCreate: false, retryMaxBackoffMs: 300 });
  sendLines(b.sink, missing, numberedLines(0, 100));
  await waitFor(() => b.sink.isFailing, 10_000, 'the delivery to fail');
  const status = b.sink.status();
  assert.match(status.lastError ?? '', new RegExp(`topic "${missing}" does not exist and KAFKA_TOPIC_CREATE is false`));
  assert.ok(b.logs.some((l) => l.msg === 'kafka delivery failed; retrying (lines wait on disk, nothing is dropped)'));
  assert.equal(b.sink.pendingLines, 100, 'nothing acknowledged, nothing dropped');
  await createTopic(missing, 1);
  await delivered(b.sink);
  assert.equal(b.sink.isFailing, false);
  assertExactlyOnceInOrder(await kcatMessages(missing), 100);
});

test('a request over the broker’s message.max.bytes is split, and a single line over it is cut, marked and counted', async (t) => {
  const topic = uniqueTopic('native-large');
  // Lines of ~100 KiB in a 4 MiB request: over the broker's 1 MiB, so the first requests are refused and split.
  const { sink, metrics, logs } = startSink(t, { batchMaxBytes: 4 * 1024 * 1024, lingerMs: 50 });
  const lines = numberedLines(0, 60, 100 * 1024);
  lines.push(`line-60-${'y'.repeat(2 * 1024 * 1024)}`); // 2 MiB: cut to 75 % until it fits
  const { owner } = sendLines(sink, topic, lines, { linesPerBatch: 61 });
  await delivered(sink, 60_000);
  assert.equal(owner.ackedLines, 61);
  assert.ok(logs.some((l) => l.msg === 'kafka rejected a request as too large; splitting it'));
  assert.ok(logs.some((l) => l.msg === 'kafka rejected a message as too large; truncating it'));
  assert.ok((await metrics.value(metrics.messagesTooLarge)) >= 2);
  assert.ok((await metrics.value(metrics.linesTruncated, { reason: 'broker' })) >= 1);
  const got = await consumeAllRaw(t, topic, { expected: 61 });
  assertExactlyOnceInOrder(got, 61);
  for (const m of got) {
    const i = lineNumber(m.value);
    if (i < 60) {
      assert.equal(m.value?.toString(), lines[i]);
      assert.equal(m.headers['logagent.truncated'], undefined);
    } else {
      assert.ok((m.value?.length ?? 0) < 1024 * 1024, 'cut below the limit');
      assert.ok(lines[60]?.startsWith(m.value?.toString() ?? '!'), 'a prefix of the line');
      assert.equal(m.headers['logagent.truncated']?.toString(), 'true');
    }
  }
});

test('full batches of ordinary lines fit the broker’s limit: their headers are counted, nothing is refused as too large', async (t) => {
  const topic = uniqueTopic('native-fit');
  // ~5 MB of 200-byte lines with a file-path key and the source/offset
  // headers: requests fill up to a 1 MiB batch (the default) while others are
  // in flight, so an estimate that leaves the headers out overshoots the
  // broker's message.max.bytes (1 MiB) and gets refused.
  const { sink, logs } = startSink(t, { lingerMs: 20, batchMaxBytes: 1024 * 1024 });
  const lines = numberedLines(0, 20_000, 190);
  const { owner } = sendLines(sink, topic, lines, { linesPerBatch: 1_300, key: '/var/log/app/access.log' });
  await delivered(sink, 60_000);
  assert.equal(owner.ackedLines, 20_000);
  assert.deepEqual(
    logs.filter((l) => /too large|OUT_OF_ORDER/.test(`${l.msg} ${JSON.stringify(l.err ?? '')}`)).map((l) => l.msg),
    [],
  );
  assertExactlyOnceInOrder(await consumeAllRaw(t, topic, { expected: 20_000 }), 20_000);
});

test('a sink replaced while it cannot deliver hands its batches over, and the next one delivers them whole, ahead of what came after', async (t) => {
  const topic = uniqueTopic('native-handover');
  const unreachable = await freePort();
  const old = startSink(t, { brokers: [`127.0.0.1:${unreachable}`], retryMaxBackoffMs: 200 });
  const lines = numberedLines(0, 3000);
  const { owner } = sendLines(old.sink, topic, lines.slice(0, 2000), { linesPerBatch: 100 });
  await waitFor(() => old.sink.isFailing, 5_000, 'the old sink to fail');
  const next = startSink(t, {}, {}, { start: false });
  const later = sendLines(next.sink, topic, lines.slice(2000), { linesPerBatch: 100 });
  const batches = old.sink.handOver();
  assert.equal(batches.length, 20);
  assert.ok(batches.every((b) => b.ackedLines === 0));
  assert.equal(old.sink.pendingLines, 0);
  next.sink.resume(batches);
  await old.sink.close(200);
  assert.equal(next.sink.pendingLines, 3000, 'nothing sent before start()');
  next.sink.start();
  await delivered(next.sink);
  assert.equal(owner.acked.length, 20);
  assert.equal(later.owner.acked.length, 10);
  assertExactlyOnceInOrder(await kcatMessages(topic), 3000);
});

/** A TCP server that accepts connections and never answers; closed (with its connections) by t.after. */
async function silentBroker(t: TestContext): Promise<{ port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.resume(); // reads and drops the requests (a paused socket would never see the client's close)
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as { port: number }).port, sockets };
}

const handles = (): string[] => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap');

test('a broker that accepts connections and never answers: close() returns within its bound and leaves no handle', async (t) => {
  const before = handles().length;
  const broker = await silentBroker(t);
  const { sink } = startSink(t, { brokers: [`127.0.0.1:${broker.port}`], requestTimeoutMs: 60_000, connectionTimeoutMs: 60_000 });
  sendLines(sink, uniqueTopic('native-silent'), numberedLines(0, 10));
  await waitFor(() => broker.sockets.size > 0, 5_000, 'the sink to connect');
  const started = performance.now();
  await sink.close(300);
  const took = performance.now() - started;
  assert.ok(took < 400, `close took ${took.toFixed(0)} ms`);
  // Our side is gone at once; the server's accepted sockets see the close.
  await waitFor(() => broker.sockets.size === 0, 2_000, 'the broker to see the connection closed');
  await waitFor(() => handles().length === before, 2_000, `no handle left (${process.getActiveResourcesInfo().join(', ')})`);
});

test('a silent broker fails the request at its deadline and the lines stay pending, not dropped', async (t) => {
  const broker = await silentBroker(t);
  const { sink, logs } = startSink(t, { brokers: [`127.0.0.1:${broker.port}`], requestTimeoutMs: 300, retryMaxBackoffMs: 200 });
  sendLines(sink, uniqueTopic('native-deadline'), numberedLines(0, 10));
  await waitFor(() => sink.status().lastError?.includes('within 300 ms') ?? false, 5_000, 'a timeout');
  assert.ok(logs.some((l) => l.msg === 'kafka delivery failed; retrying (lines wait on disk, nothing is dropped)'));
  assert.equal(sink.pendingLines, 10);
  await sink.close(200);
});

test('once everything is delivered the sink holds no timer: an idle sidecar never wakes up', async (t) => {
  const topic = uniqueTopic('native-idle');
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  await new Promise((r) => setTimeout(r, 50)); // what earlier tests armed has fired
  const before = timers();
  const { sink } = startSink(t);
  sendLines(sink, topic, numberedLines(0, 1000));
  await delivered(sink);
  await new Promise((r) => setTimeout(r, 100)); // a linger timer armed before the last send has fired by now
  assert.equal(timers(), before, `a timer left: ${process.getActiveResourcesInfo().join(', ')}`);
  assert.ok(sink.status().connected, 'the connection stays open (a socket, no timer)');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { HttpServer } from '../../../src/http/server.ts';
import { Metrics } from '../../../src/metrics.ts';

test('serves Prometheus metrics, liveness and readiness', async (t) => {
  const metrics = new Metrics();
  metrics.linesAcked.inc(3);
  metrics.filesClosed.inc({ reason: 'drained' });
  let ready = false;
  let live = true;
  const server = new HttpServer({
    host: '127.0.0.1',
    port: 0,
    metrics,
    logger: pino({ level: 'silent' }),
    health: {
      liveness: () => ({ ok: live, loops: { checkpoint: { agoMs: live ? 5 : 99_000, limitMs: 13_000, ok: live } } }),
      isReady: () => ready,
      status: () => ({ files: [{ path: '/logs/a.log' }] }),
    },
  });
  const port = await server.start();
  t.after(() => server.close());
  const base = `http://127.0.0.1:${port}`;

  const m = await fetch(`${base}/metrics`);
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type') ?? '', /text\/plain/);
  const body = await m.text();
  assert.match(body, /^# TYPE logagent_lines_acked_total counter$/m);
  assert.match(body, /^logagent_lines_acked_total 3$/m);
  assert.match(body, /^logagent_files_closed_total\{reason="drained"\} 1$/m);

  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  live = false;
  const stalled = await fetch(`${base}/healthz`);
  assert.equal(stalled.status, 503);
  assert.equal(((await stalled.json()) as { loops: { checkpoint: { ok: boolean } } }).loops.checkpoint.ok, false, 'names the stalled loop');
  const status = await fetch(`${base}/status`);
  assert.equal(status.status, 200);
  assert.deepEqual(await status.json(), { files: [{ path: '/logs/a.log' }] });
  assert.equal((await fetch(`${base}/readyz`)).status, 503);
  ready = true;
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  assert.equal((await fetch(`${base}/nope`)).status, 404);
  assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
});

test('a busy port fails start with the port in the error', async (t) => {
  const logger = pino({ level: 'silent' });
  const health = { liveness: () => ({ ok: true, loops: {} }), isReady: () => true, status: () => ({}) };
  const a = new HttpServer({ host: '127.0.0.1', port: 0, metrics: new Metrics(), logger, health });
  const port = await a.start();
  t.after(() => a.close());
  const b = new HttpServer({ host: '127.0.0.1', port, metrics: new Metrics(), logger, health });
  await assert.rejects(b.start(), /EADDRINUSE/);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InflightBudget } from '../../src/budget.ts';

test('reserve waits while the budget is spent and resumes when bytes are released', async () => {
  const b = new InflightBudget(100);
  await b.reserve(80);
  let granted = false;
  const pending = b.reserve(50).then(() => (granted = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(granted, false);
  b.release(40);
  await pending;
  assert.equal(granted, true);
  assert.equal(b.usedBytes, 90);
});

test('a request larger than the whole budget is granted once nothing is in flight', async () => {
  const b = new InflightBudget(10);
  await b.reserve(5);
  const big = b.reserve(50);
  b.release(5);
  await big;
  assert.equal(b.usedBytes, 50);
});

test('waiters are served first come, first served', async () => {
  const b = new InflightBudget(10);
  await b.reserve(10);
  const order: string[] = [];
  const first = b.reserve(8).then(() => order.push('big'));
  const second = b.reserve(1).then(() => order.push('small'));
  b.release(3);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], 'the small request must not overtake the big one');
  b.release(7);
  await Promise.all([first, second]);
  assert.deepEqual(order, ['big', 'small']);
});

test('an aborted wait rejects and leaves the budget untouched', async () => {
  const b = new InflightBudget(10);
  await b.reserve(10);
  const ac = new AbortController();
  const waiting = b.reserve(5, ac.signal);
  ac.abort(new Error('stop'));
  await assert.rejects(waiting, /stop/);
  assert.equal(b.usedBytes, 10);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InflightBudget } from '../../src/budget.ts';

test('tryReserve takes bytes while they fit and refuses once the budget is spent', () => {
  const b = new InflightBudget(100);
  assert.equal(b.tryReserve(80), true);
  assert.equal(b.tryReserve(30), false);
  assert.equal(b.usedBytes, 80);
  b.release(40);
  assert.equal(b.tryReserve(30), true);
  assert.equal(b.usedBytes, 70);
});

test('a request larger than the whole budget is granted once nothing is in flight', () => {
  const b = new InflightBudget(10);
  assert.equal(b.tryReserve(5), true);
  assert.equal(b.tryReserve(50), false);
  b.release(5);
  assert.equal(b.tryReserve(50), true);
});

test('unfinished lines that fill the budget do not deadlock: with nothing in flight a read is granted', () => {
  const b = new InflightBudget(100);
  assert.equal(b.tryReserve(90), true);
  b.settle(90, 0, 90); // the whole read became an unfinished line
  assert.equal(b.heldBytes, 90);
  assert.equal(b.inflightBytes, 0);
  assert.equal(b.tryReserve(50), true, 'no acknowledgement could ever free room, so the reader may go on');
});

test('settle turns a reservation into what the read really cost', () => {
  const b = new InflightBudget(1000);
  assert.equal(b.tryReserve(600), true);
  b.settle(600, 150, 20);
  assert.equal(b.inflightBytes, 150);
  assert.equal(b.heldBytes, 20);
  b.releaseHeld(20);
  b.release(150);
  assert.equal(b.usedBytes, 0);
});

test('parked readers wake together once usage falls to half the budget, not at every release', async () => {
  const b = new InflightBudget(100);
  assert.equal(b.tryReserve(100), true);
  let woken = 0;
  const waits = [b.waitForRoom().then(() => woken++), b.waitForRoom().then(() => woken++)];
  b.release(10);
  await new Promise((r) => setImmediate(r));
  assert.equal(woken, 0, 'still above half');
  b.release(45);
  await Promise.all(waits);
  assert.equal(woken, 2);
});

test('waitForRoom ends when its signal aborts', async () => {
  const b = new InflightBudget(10);
  b.tryReserve(10);
  const ac = new AbortController();
  const wait = b.waitForRoom(ac.signal);
  ac.abort();
  await wait;
  assert.equal(b.waitingCount, 0);
});

// static/js/read-only.js: when the page stops taking writes, and when it takes them again.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ReadOnlyGate, SHORT_FOR_MS } from '../../static/js/read-only.js';

const short = { up: 2, total: 4, need: 3 };
const enough = { up: 3, total: 4, need: 3 };

test('a page starts out taking writes', () => {
  const gate = new ReadOnlyGate();
  assert.equal(gate.readOnly, false);
  assert.equal(gate.reason, null);
});

test('one short view does not lock the page; a shortage that lasts does', () => {
  const gate = new ReadOnlyGate();
  assert.equal(gate.observe(short, 1000), false);
  assert.equal(gate.observe(short, 1000 + SHORT_FOR_MS - 1), false);
  assert.equal(gate.readOnly, false);
  assert.equal(gate.observe(short, 1000 + SHORT_FOR_MS), true, 'reported as a change once');
  assert.deepEqual(gate.reason, short);
  assert.equal(gate.observe(short, 1000 + 2 * SHORT_FOR_MS), false, 'still read-only: no news');
});

test('a quorum seen between two short views starts the wait again', () => {
  const gate = new ReadOnlyGate();
  gate.observe(short, 0);
  gate.observe(enough, SHORT_FOR_MS - 100);
  assert.equal(gate.observe(short, SHORT_FOR_MS), false);
  assert.equal(gate.observe(short, 2 * SHORT_FOR_MS - 1), false);
  assert.equal(gate.observe(short, 2 * SHORT_FOR_MS), true);
});

test('a quorum seen once unlocks the page', () => {
  const gate = new ReadOnlyGate();
  gate.observe(short, 0);
  gate.observe(short, SHORT_FOR_MS);
  assert.equal(gate.observe(enough, SHORT_FOR_MS + 1), true);
  assert.equal(gate.readOnly, false);
});

test('a write refused for want of quorum locks the page at once, with the numbers of the refusal', () => {
  const gate = new ReadOnlyGate();
  assert.equal(gate.refused({ error: 'no_quorum', reachable: 1, needed: 3 }, enough), true);
  assert.deepEqual(gate.reason, { up: 1, need: 3, total: 4 });
});

test('a refusal without numbers keeps the server\'s message', () => {
  const gate = new ReadOnlyGate();
  gate.refused({ error: 'no_quorum', message: 'too few nodes' }, null);
  assert.deepEqual(gate.reason, { message: 'too few nodes' });
  assert.equal(gate.readOnly, true);
});

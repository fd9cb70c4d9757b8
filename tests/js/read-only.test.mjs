// static/js/read-only.js: when the page stops taking writes, and when it takes them again.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ReadOnlyGate, SHORT_FOR_MS } from '../../static/js/read-only.js';

const short = { voters: 4, needed: 3, reachable: 2 };
const enough = { voters: 4, needed: 3, reachable: 3 };
const lockedGate = () => {
  const gate = new ReadOnlyGate();
  gate.observe(short, 0);
  gate.observe(short, SHORT_FOR_MS);
  assert.equal(gate.readOnly, true);
  return gate;
};

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
  const gate = lockedGate();
  assert.equal(gate.observe(enough, SHORT_FOR_MS + 1), true);
  assert.equal(gate.readOnly, false);
});

test('a status without the quorum neither locks nor unlocks the page', () => {
  const open = new ReadOnlyGate();
  assert.equal(open.observe(null, 0), false);
  assert.equal(open.observe(null, 10 * SHORT_FOR_MS), false);
  assert.equal(open.readOnly, false);
  const locked = lockedGate();
  assert.equal(locked.observe(null, 10 * SHORT_FOR_MS), false);
  assert.equal(locked.readOnly, true);
});

test('a write refused for want of quorum locks the page at once, with the numbers of the refusal', () => {
  const gate = new ReadOnlyGate();
  assert.equal(gate.refused({ error: 'no_quorum', reachable: 1, needed: 3 }, enough), true);
  assert.deepEqual(gate.reason, { reachable: 1, needed: 3, voters: 4 });
});

test('a refusal while the quorum is unknown locks the page without numbers', () => {
  const gate = new ReadOnlyGate();
  gate.refused({ error: 'no_quorum', message: '2 of 4 nodes reachable', reachable: 2, needed: 3 }, null);
  assert.deepEqual(gate.reason, { message: '2 of 4 nodes reachable' });
  assert.equal(gate.readOnly, true);
});

test('a write newly accepted unlocks the page; a replayed answer does not', () => {
  const gate = lockedGate();
  assert.equal(gate.written({ replayed: true }), false);
  assert.equal(gate.readOnly, true);
  assert.equal(gate.written({ replayed: false }), true);
  assert.equal(gate.readOnly, false);
});

test('after a write was accepted, a shortage must last again before it locks the page', () => {
  const gate = lockedGate();
  gate.written({ replayed: false });
  assert.equal(gate.observe(short, SHORT_FOR_MS + 10), false);
  assert.equal(gate.observe(short, 2 * SHORT_FOR_MS + 10), true);
});

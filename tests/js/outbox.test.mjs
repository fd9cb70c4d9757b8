// static/js/outbox.js: actions sent one at a time, in order, each under one Idempotency-Key for all its
// attempts, through failovers, redirects to the leader and a lost quorum. The connection is a fake
// that answers from a script; waits are recorded instead of slept.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { NetworkError } from '../../static/js/connection.js';
import { TaskList } from '../../static/js/model.js';
import { Outbox } from '../../static/js/outbox.js';
import { answer } from './answers.mjs';

const NODE_A = 'http://127.0.0.1:4000';
const NODE_B = 'http://127.0.0.1:4001';

// A Connection that answers each request with the next scripted answer (an Error is thrown) and moves
// to NODE_B on failover.
class ScriptedConnection {
  constructor(script) {
    this.script = [...script];
    this.current = NODE_A;
    this.lastIndex = 10;
    this.sent = [];
    this.failovers = [];
  }

  async request(method, path, { body, headers, base }) {
    this.sent.push({ method, path, body, key: headers['Idempotency-Key'], base });
    const next = this.script.shift();
    assert.ok(next, `no answer scripted for request ${this.sent.length}: ${method} ${path}`);
    if (next instanceof Error) throw next;
    return next;
  }

  async failover(from) {
    this.failovers.push(from);
    this.current = NODE_B;
  }
}

// An outbox over `script`, and what it reported. `drained()` resolves once every action added so far
// has been answered or given up; `everyChange(fn)` calls fn on each change the outbox reports.
function outboxOver(script) {
  const conn = new ScriptedConnection(script);
  const seen = { written: [], failed: [], noQuorum: [], waits: [] };
  let onChange = () => {};
  const idle = [];
  let keys = 0;
  const outbox = new Outbox(
    conn,
    {
      onChange() {
        onChange();
        if (!outbox.queue.length) for (const resolve of idle.splice(0)) resolve();
      },
      onWritten: (action, path) => seen.written.push({ action, path }),
      onFailed: (action, message) => seen.failed.push({ action, message }),
      onNoQuorum: (body) => seen.noQuorum.push(body),
    },
    {
      newKey: () => `key-${++keys}`,
      sleep: async (ms) => seen.waits.push(ms),
    },
  );
  const drained = () => new Promise((resolve) => idle.push(resolve));
  const everyChange = (fn) => (onChange = fn);
  return { conn, outbox, seen, drained, everyChange };
}

const created = (id, index) => answer(201, { id, title: id, version: 1 }, { 'X-Todonode-Applied-Index': String(index) });

test('actions go one at a time, in the order they were made, each with its own key', async () => {
  const { conn, outbox, seen, drained } = outboxOver([created('t1', 11), answer(200, {}, { 'X-Todonode-Applied-Index': '12' })]);
  outbox.add({ kind: 'create', titles: ['t1'] });
  outbox.add({ kind: 'update', id: 't1', changes: { completed: true }, title: 't1' });
  assert.equal(conn.sent.length, 1, 'the second waits for the first to be answered');
  await drained();
  assert.deepEqual(conn.sent.map((s) => [s.method, s.path, s.key]), [
    ['POST', '/tasks', 'key-1'],
    ['PATCH', '/tasks/t1', 'key-2'],
  ]);
  assert.deepEqual(seen.written.map((w) => w.action.kind), ['create', 'update']);
});

test('an action whose node died is sent again to the next node under the same key', async () => {
  const { conn, outbox, seen, drained } = outboxOver([new NetworkError(NODE_A, new Error('reset')), created('t1', 11)]);
  outbox.add({ kind: 'create', titles: ['t1'] });
  await drained();
  assert.deepEqual(conn.failovers, [NODE_A]);
  assert.deepEqual(conn.sent.map((s) => [s.base, s.key]), [[NODE_A, 'key-1'], [NODE_B, 'key-1']]);
  assert.equal(seen.written[0].path.sends, 2);
});

test('a 421 sends the action to the leader it names, under the same key', async () => {
  const { conn, outbox, drained } = outboxOver([answer(421, { error: 'not_leader', leader: NODE_B }), created('t1', 11)]);
  outbox.add({ kind: 'create', titles: ['t1'] });
  await drained();
  assert.deepEqual(conn.sent.map((s) => [s.base, s.key]), [[NODE_A, 'key-1'], [NODE_B, 'key-1']]);
});

test('no quorum holds the action, says why, waits as asked and sends it again', async () => {
  const refusal = { error: 'no_quorum', message: '2 of 4 nodes reachable; 3 needed', reachable: 2, needed: 3 };
  const noQuorum = answer(503, refusal, { 'Retry-After': '1' });
  const { conn, outbox, seen, drained } = outboxOver([noQuorum, noQuorum, created('t1', 11)]);
  const action = { kind: 'create', titles: ['t1'] };
  outbox.add(action);
  await drained();
  assert.deepEqual(seen.noQuorum, [refusal, refusal]);
  assert.deepEqual(seen.waits.slice(0, 2), [1000, 1000]);
  assert.deepEqual(conn.sent.map((s) => s.key), ['key-1', 'key-1', 'key-1']);
  assert.equal(seen.failed.length, 0, 'held, never failed');
  assert.equal(action.held, false, 'no longer held once written');
});

test('a held action shows as held in the list until it is written', async () => {
  const { outbox, drained, everyChange } = outboxOver([answer(503, { error: 'no_quorum' }), created('t1', 11)]);
  const list = new TaskList();
  const shown = [];
  everyChange(() => shown.push([...outbox.applyTo(list).values()].map((t) => t.pending ?? 'answered')));
  outbox.add({ kind: 'create', titles: ['t1'] });
  await drained();
  assert.deepEqual(shown[0], ['saving']);
  const heldFrom = shown.findIndex((row) => row[0] === 'held');
  assert.ok(heldFrom > 0, 'held once the cluster said there is no quorum');
  assert.ok(shown.slice(heldFrom).some((row) => row[0] === 'answered'), 'then shown as the answer says');
});

test('a refused action is given up with the server\'s message, and the next one goes on', async () => {
  const { conn, outbox, seen, drained } = outboxOver([answer(400, { error: 'invalid', message: 'title is empty' }), created('t2', 11)]);
  outbox.add({ kind: 'create', titles: [''] });
  outbox.add({ kind: 'create', titles: ['t2'] });
  await drained();
  assert.deepEqual(seen.failed.map((f) => f.message), ['title is empty']);
  assert.deepEqual(seen.written.map((w) => w.action.titles[0]), ['t2']);
  assert.equal(conn.sent.length, 2, 'a refusal is not retried');
});

test('an election is waited out and the action sent again under the same key', async () => {
  const election = answer(503, { error: 'no_leader' }, { 'Retry-After': '0.5' });
  const { conn, outbox, seen, drained } = outboxOver([election, election, created('t1', 11)]);
  outbox.add({ kind: 'create', titles: ['t1'] });
  await drained();
  assert.deepEqual(seen.waits.slice(0, 2), [500, 500]);
  assert.deepEqual(conn.sent.map((s) => s.key), ['key-1', 'key-1', 'key-1']);
  assert.equal(seen.noQuorum.length, 0);
});

test('an answered action stays shown until the event stream reaches its index', async () => {
  const { conn, outbox, drained } = outboxOver([created('t1', 15)]);
  // The settle timeout must not end it here: only the events may.
  outbox.sleep = () => new Promise(() => {});
  const list = new TaskList();
  outbox.add({ kind: 'create', titles: ['t1'] });
  await drained();
  assert.deepEqual([...outbox.applyTo(list).keys()], ['t1'], 'shown from the answer before its event');
  outbox.settleUpTo(14);
  assert.deepEqual([...outbox.applyTo(list).keys()], ['t1']);
  outbox.settleUpTo(15);
  assert.deepEqual([...outbox.applyTo(list).keys()], [], 'the list itself now says what is true');
  assert.equal(conn.sent.length, 1);
});

test('an answered action whose events never come stops being shown after the settle timeout', async () => {
  const { outbox, seen, drained } = outboxOver([created('t1', 15)]);
  outbox.add({ kind: 'create', titles: ['t1'] });
  await drained();
  assert.ok(seen.waits.includes(3000));
  assert.deepEqual([...outbox.applyTo(new TaskList()).keys()], []);
});

test('a pending creation whose event arrived first is not shown twice', () => {
  const { outbox } = outboxOver([]);
  outbox.conn.request = () => new Promise(() => {}); // the answer is still on its way
  const list = new TaskList();
  outbox.add({ kind: 'create', titles: ['milk', 'milk'], batch: true });
  list.apply({ type: 'created', id: 't1', task: { id: 't1', title: 'milk', seq: 1, version: 1 } }, 11);
  assert.deepEqual([...outbox.applyTo(list).keys()], ['t1', 'pending:key-1:1']);
});

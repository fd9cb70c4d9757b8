// static/js/write-policy.js: which request an action is, and what each answer to it means.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { GIVE_UP_AFTER_MS, nextStep, requestFor, retryAfterMs, writePath } from '../../static/js/write-policy.js';
import { answer } from './answers.mjs';

const create = { kind: 'create', titles: ['milk'] };

test('each kind of action becomes its request', () => {
  assert.deepEqual(requestFor(create), { method: 'POST', path: '/tasks', body: { title: 'milk' } });
  assert.deepEqual(requestFor({ kind: 'create', titles: ['a', 'b'], batch: true }), {
    method: 'POST',
    path: '/tasks/batch',
    body: { tasks: [{ title: 'a' }, { title: 'b' }] },
  });
  assert.deepEqual(requestFor({ kind: 'update', id: 't1', changes: { completed: true } }), {
    method: 'PATCH',
    path: '/tasks/t1',
    body: { completed: true },
  });
  assert.deepEqual(requestFor({ kind: 'delete', id: 't1' }), { method: 'DELETE', path: '/tasks/t1' });
  assert.deepEqual(requestFor({ kind: 'clear' }), { method: 'DELETE', path: '/tasks?completed=true' });
  assert.deepEqual(requestFor({ kind: 'deleteAll' }), { method: 'DELETE', path: '/tasks?all=true' });
  assert.deepEqual(requestFor({ kind: 'setAll', completed: false }), { method: 'PATCH', path: '/tasks', body: { completed: false } });
  assert.throws(() => requestFor({ kind: 'rename-all' }), /unknown action rename-all/);
});

test('a task id is escaped in the path', () => {
  assert.equal(requestFor({ kind: 'delete', id: 'a/b?c' }).path, '/tasks/a%2Fb%3Fc');
});

test('a 2xx answer is done, with its body to show', () => {
  const body = { id: 't1', title: 'milk' };
  assert.deepEqual(nextStep(create, answer(201, body), 10), { kind: 'done', result: body });
});

test('a 404 to a delete is done: someone deleted the task first', () => {
  assert.deepEqual(nextStep({ kind: 'delete', id: 't1' }, answer(404, { error: 'not_found' }), 10), { kind: 'done', result: null });
  assert.equal(nextStep({ kind: 'update', id: 't1', changes: {} }, answer(404, { error: 'not_found', message: 'gone' }), 10).kind, 'fail');
});

test('a 421 naming the leader sends the action there', () => {
  const res = answer(421, { error: 'not_leader', leader: 'http://127.0.0.1:4001' });
  assert.deepEqual(nextStep(create, res, 10), { kind: 'leader', url: 'http://127.0.0.1:4001' });
  assert.equal(nextStep(create, answer(421, { error: 'not_leader', message: 'no leader' }), 10).kind, 'fail');
});

test('no quorum holds the action, however long it has waited', () => {
  const res = answer(503, { error: 'no_quorum', reachable: 2, needed: 3 }, { 'Retry-After': '1' });
  assert.deepEqual(nextStep(create, res, 10), { kind: 'hold', waitMs: 1000 });
  assert.deepEqual(nextStep(create, res, GIVE_UP_AFTER_MS * 10), { kind: 'hold', waitMs: 1000 });
});

test('a full list is a failure at once: no retry makes room', () => {
  const res = answer(507, { error: 'quota_exceeded', message: 'the task list is full' });
  assert.deepEqual(nextStep(create, res, 10), { kind: 'fail', message: 'the task list is full' });
});

test('503 and 507 are retried under the same action until the give-up time', () => {
  for (const status of [503, 507]) {
    const res = answer(status, { error: 'unavailable', message: 'outcome unknown' });
    assert.deepEqual(nextStep(create, res, GIVE_UP_AFTER_MS - 1), { kind: 'retry', waitMs: 500 });
    assert.deepEqual(nextStep(create, res, GIVE_UP_AFTER_MS), { kind: 'fail', message: 'outcome unknown' });
  }
});

test('a refusal is given up at once, with the server\'s message or the status', () => {
  assert.deepEqual(nextStep(create, answer(400, { error: 'invalid', message: 'title too long' }), 10), {
    kind: 'fail',
    message: 'title too long',
  });
  assert.deepEqual(nextStep(create, answer(500, null), 10), { kind: 'fail', message: 'HTTP 500' });
});

test('the wait between tries is the one the answer asks for, at most 5 s', () => {
  assert.equal(retryAfterMs(answer(503, null, { 'Retry-After': '2' })), 2000);
  assert.equal(retryAfterMs(answer(503, null, { 'Retry-After': '0.25' })), 250);
  assert.equal(retryAfterMs(answer(503, { retry_after: 1.5 })), 1500);
  assert.equal(retryAfterMs(answer(503, { retry_after: 9 }, { 'Retry-After': '3' })), 3000, 'the header wins');
  assert.equal(retryAfterMs(answer(503, null, { 'Retry-After': '120' })), 5000);
  assert.equal(retryAfterMs(answer(503, null)), 500);
  assert.equal(retryAfterMs(answer(503, null, { 'Retry-After': 'soon' })), 500);
  assert.equal(retryAfterMs(answer(503, { retry_after: 0 })), 500);
});

test('the write path names the receiving node, the leader and whether it was forwarded', () => {
  const forwarded = answer(201, {}, {
    'X-Todonode-Forwarded-By': 'node4001',
    'X-Todonode-Node': 'node4000',
    'X-Todonode-Leader': 'node4000',
    'X-Todonode-Applied-Index': '42',
    'Idempotent-Replayed': 'true',
  });
  assert.deepEqual(writePath(forwarded, { ms: 12, sends: 2, at: 1000 }), {
    receivedBy: 'node4001',
    leader: 'node4000',
    forwarded: true,
    index: 42,
    ms: 12,
    replayed: true,
    sends: 2,
    at: 1000,
  });
  const direct = writePath(answer(201, {}, { 'X-Todonode-Node': 'node4000', 'X-Todonode-Leader': 'node4000' }), { ms: 3, sends: 1, at: 5 });
  assert.equal(direct.receivedBy, 'node4000');
  assert.equal(direct.forwarded, false);
  assert.equal(direct.index, null);
  assert.equal(direct.replayed, false);
});

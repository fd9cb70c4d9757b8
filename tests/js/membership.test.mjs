// static/js/membership.js: learners' progress, the changes the timeline tells, the admin's requests.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { changeRequest, learnerProgress, membershipChanges } from '../../static/js/membership.js';

const view = (rows, kind = 'leader') => ({ view: kind, nodes: rows.map(([id, membership]) => ({ id, membership })) });

test('a learner within the promotion lag is ready; one further behind is not', () => {
  const within = { behind: 40, threshold: 100, waiting: false, ready: true };
  assert.deepEqual(learnerProgress({ membership: 'learner', lag: 40, reachable: true }, 100), within);
  const behind = { behind: 400, threshold: 100, waiting: false, ready: false };
  assert.deepEqual(learnerProgress({ membership: 'learner', lag: 400, reachable: true }, 100), behind);
});

test('a learner the leader cannot reach waits, however small its lag', () => {
  const waiting = { behind: 5, threshold: 100, waiting: true, ready: false };
  assert.deepEqual(learnerProgress({ membership: 'learner', lag: 5, reachable: false }, 100), waiting);
});

test('a voter, or a learner whose lag is unknown, has no progress to show', () => {
  assert.equal(learnerProgress({ membership: 'voter', lag: 0 }, 100), null);
  assert.equal(learnerProgress({ membership: 'learner', lag: null }, 100), null);
  assert.equal(learnerProgress({ membership: 'learner', lag: 3 }, null), null);
});

test('a node added, promoted and removed is each told once', () => {
  const before = view([['a', 'voter'], ['b', 'voter'], ['c', 'learner']]);
  const after = view([['a', 'voter'], ['c', 'voter'], ['d', 'learner']]);
  assert.deepEqual(membershipChanges(before, after), [
    { kind: 'promoted', node: 'c' },
    { kind: 'joined', node: 'd' },
    { kind: 'removed', node: 'b' },
  ]);
  assert.deepEqual(membershipChanges(after, after), []);
});

test('a partial view is never compared', () => {
  const before = view([['a', 'voter'], ['b', 'voter']]);
  assert.deepEqual(membershipChanges(before, view([['a', 'voter']], 'partial')), []);
  assert.deepEqual(membershipChanges(null, before), []);
});

test('a row without membership (from an older leader) counts as a voter', () => {
  const before = { view: 'leader', nodes: [{ id: 'a' }] };
  assert.deepEqual(membershipChanges(before, view([['a', 'voter']])), []);
});

test('the admin requests name the endpoint, the URL without a trailing slash, the id escaped', () => {
  assert.deepEqual(changeRequest('add', { url: ' http://127.0.0.1:4004/ ' }), {
    method: 'POST',
    path: '/cluster/members',
    body: { url: 'http://127.0.0.1:4004' },
  });
  assert.deepEqual(changeRequest('remove', { id: 'node4004.2' }), { method: 'DELETE', path: '/cluster/members/node4004.2', body: null });
  assert.equal(changeRequest('remove', { id: 'a/b' }).path, '/cluster/members/a%2Fb');
  assert.throws(() => changeRequest('promote', {}));
});

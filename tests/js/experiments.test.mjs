// static/js/experiments.js: each guided experiment's steps start from the cluster as it is, and pass
// only when the cluster did what the step said it would.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EXPERIMENTS, ExperimentRun } from '../../static/js/experiments.js';

const experiment = (id) => EXPERIMENTS.find((e) => e.id === id);
const ids = ['node4000', 'node4001', 'node4002', 'node4003'];

// A healthy cluster led by node4000 in term 2, changed by `patch`.
function obs(patch = {}) {
  const base = {
    now: 1000,
    slowDiskMs: 200,
    nodes: ids.map((id) => ({ id, process: 'running', isolated: false, diskDelayMs: 0 })),
    roles: Object.fromEntries(ids.map((id) => [id, { role: id === 'node4000' ? 'leader' : 'follower', term: 2 }])),
    leader: 'node4000',
    term: 2,
    quorum: { voters: 4, needed: 3, reachable: 4 },
    probes: [],
  };
  return { ...base, ...patch };
}
const withNode = (o, id, change) => ({ ...o, nodes: o.nodes.map((n) => (n.id === id ? { ...n, ...change } : n)) });
const withRole = (o, id, role, term) => ({ ...o, roles: { ...o.roles, [id]: { role, term } } });

test('kill the leader: passes once another node leads a later term, then once the old one is back', () => {
  const run = new ExperimentRun(experiment('kill'), obs());
  assert.deepEqual(run.base.targets, ['node4000']);
  let o = withNode(obs({ now: 2000 }), 'node4000', { process: 'down' });
  run.acted('node4000', 'stop', 1500);
  assert.equal(run.observe({ ...o, leader: null }), false, 'no leader yet');
  assert.equal(run.observe({ ...o, leader: 'node4000', term: 2 }), false, 'a stale picture of the old leader');
  assert.equal(run.observe({ ...o, leader: 'node4002', term: 3 }), true);
  assert.deepEqual(run.results[0], { key: 'exd_newLeader', params: { leader: 'node4002', term: 3 }, at: 2000, afterMs: 500 });
  assert.equal(run.step.id, 'restart');
  assert.deepEqual(run.base.targets, ['node4000'], 'the same node it stopped');
  o = { ...o, leader: 'node4002', term: 3, now: 3000 };
  assert.equal(run.observe(o), false, 'still down');
  o = withRole(withNode(o, 'node4000', { process: 'running' }), 'node4000', 'follower', 3);
  assert.equal(run.observe(o), true);
  assert.equal(run.results[1].key, 'exd_back');
  assert.equal(run.done, true);
});

test('pause the leader: the resumed node must be seen in a later term than it led', () => {
  const run = new ExperimentRun(experiment('pause'), obs());
  let o = withNode(obs({ leader: 'node4001', term: 3 }), 'node4000', { process: 'paused' });
  assert.equal(run.observe(o), true);
  o = withNode(o, 'node4000', { process: 'running' });
  assert.equal(run.observe(o), false, 'it still believes it leads term 2');
  assert.equal(run.observe(withRole(o, 'node4000', 'follower', 3)), true);
  assert.equal(run.results[1].key, 'exd_steppedDown');
});

test('a minority cut off still writes; a majority cut off refuses writes and still reads', () => {
  const run = new ExperimentRun(experiment('partition'), obs());
  assert.deepEqual(run.base.targets, ['node4003']);
  let o = withNode(obs({ now: 2000 }), 'node4003', { isolated: true });
  assert.equal(run.observe(o), false, 'no write tried yet');
  o = { ...o, probes: [{ at: 2100, kind: 'write', ok: true, status: 201, ms: 12 }] };
  assert.equal(run.observe(o), true);
  assert.deepEqual(run.base.targets, ['node4002'], 'the next follower still in touch');
  o = withNode({ ...o, now: 3000, leader: null }, 'node4002', { isolated: true });
  const refused = { at: 3500, kind: 'write', ok: false, status: 503, error: 'no_quorum', message: '2 of 4 nodes reachable; 3 needed' };
  assert.equal(run.observe({ ...o, probes: [...o.probes, refused] }), false, 'a read must be tried too');
  const read = { at: 3600, kind: 'read', ok: true, status: 200, count: 3 };
  assert.equal(run.observe({ ...o, probes: [...o.probes, refused, read] }), true);
  assert.deepEqual(run.results[1].params, { error: 'no_quorum', message: '2 of 4 nodes reachable; 3 needed', count: 3 });
  assert.deepEqual(run.base.targets, ['node4002', 'node4003'], 'heal every node cut off');
  o = withNode(withNode({ ...o, leader: 'node4000', term: 3 }, 'node4002', { isolated: false }), 'node4003', { isolated: false });
  assert.equal(run.observe(o), true);
  assert.equal(run.done, true);
});

test('a slow follower disk leaves writes fast; a slow leader disk makes them wait', () => {
  const run = new ExperimentRun(experiment('disk'), obs());
  let o = withNode(obs({ now: 2000 }), 'node4003', { diskDelayMs: 200 });
  assert.equal(run.observe({ ...o, probes: [{ at: 2100, kind: 'write', ok: true, ms: 350 }] }), false, 'slow: not this one');
  assert.equal(run.observe({ ...o, probes: [{ at: 2200, kind: 'write', ok: true, ms: 15 }] }), true);
  o = withNode({ ...o, now: 3000 }, 'node4000', { diskDelayMs: 200 });
  assert.equal(run.observe({ ...o, probes: [{ at: 3100, kind: 'write', ok: true, ms: 40 }] }), false);
  assert.equal(run.observe({ ...o, probes: [{ at: 3200, kind: 'write', ok: true, ms: 230 }] }), true);
  assert.deepEqual(run.base.targets, ['node4000', 'node4003']);
  o = withNode(withNode(o, 'node4000', { diskDelayMs: 0 }), 'node4003', { diskDelayMs: 0 });
  assert.equal(run.observe(o), true);
});

test('a step without a target yet (no leader to stop) waits for one', () => {
  const run = new ExperimentRun(experiment('kill'), obs({ leader: null }));
  assert.deepEqual(run.base.targets, []);
  assert.equal(run.observe(obs({ leader: null })), false);
  assert.equal(run.observe(obs()), false);
  assert.deepEqual(run.base.targets, ['node4000']);
});

test('only the step\'s own action on its own target starts the clock', () => {
  const run = new ExperimentRun(experiment('kill'), obs());
  run.acted('node4001', 'stop', 10);
  run.acted('node4000', 'pause', 20);
  assert.equal(run.base.actedAt, null);
  run.acted('node4000', 'stop', 30);
  run.acted('node4000', 'stop', 40);
  assert.equal(run.base.actedAt, 30);
});

// static/js/model.js: the list as the cluster has it, and the user's pending actions laid over it.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FILTERS, ordered, overlay, routeFilter, TaskList } from '../../static/js/model.js';

const task = (id, fields = {}) => ({ id, title: `task ${id}`, completed: false, seq: Number(id.slice(1)), version: 1, ...fields });
const tasksOf = (...tasks) => new Map(tasks.map((t) => [t.id, t]));

test('replace takes the whole list and forgets the recent creations', () => {
  const list = new TaskList();
  list.apply({ type: 'created', id: 't9', task: task('t9') }, 5);
  list.replace([task('t1'), task('t2')]);
  assert.deepEqual([...list.tasks.keys()], ['t1', 't2']);
  assert.deepEqual(list.recent, []);
});

test('task events create, update and delete in log order', () => {
  const list = new TaskList();
  list.apply({ type: 'created', id: 't1', task: task('t1') }, 1);
  list.apply({ type: 'updated', id: 't1', task: task('t1', { completed: true, version: 2 }) }, 2);
  assert.equal(list.tasks.get('t1').completed, true);
  list.apply({ type: 'deleted', id: 't1' }, 3);
  assert.equal(list.tasks.has('t1'), false);
});

test('an event replayed after a reconnect never takes a task back a version', () => {
  const list = new TaskList();
  list.replace([task('t1', { title: 'new', version: 3 })]);
  list.apply({ type: 'updated', id: 't1', task: task('t1', { title: 'old', version: 2 }) }, 7);
  assert.equal(list.tasks.get('t1').title, 'new');
  list.apply({ type: 'updated', id: 't1', task: task('t1', { title: 'same version', version: 3 }) }, 8);
  assert.equal(list.tasks.get('t1').title, 'same version');
});

test('creations are remembered with their index, the oldest dropped past 2000', () => {
  const list = new TaskList();
  for (let i = 1; i <= 2005; i++) list.apply({ type: 'created', id: `t${i}`, task: task(`t${i}`) }, i);
  assert.equal(list.recent.length, 2000);
  assert.deepEqual(list.recent[0], { id: 't6', title: 'task t6', index: 6 });
  assert.deepEqual(list.recent.at(-1), { id: 't2005', title: 'task t2005', index: 2005 });
});

test('an unanswered create shows one pending row per title, marked saving', () => {
  const tasks = tasksOf(task('t1'));
  overlay({ kind: 'create', key: 'k', titles: ['a', 'b'], afterIndex: 0 }, tasks);
  assert.deepEqual(tasks.get('pending:k:0'), { id: 'pending:k:0', title: 'a', completed: false, seq: Infinity, version: 0, pending: 'saving' });
  assert.equal(tasks.get('pending:k:1').title, 'b');
  assert.equal(tasks.size, 3);
});

test('a create held for quorum is marked held', () => {
  const tasks = new Map();
  overlay({ kind: 'create', key: 'k', titles: ['a'], afterIndex: 0, held: true }, tasks);
  assert.equal(tasks.get('pending:k:0').pending, 'held');
});

test('a create whose task already came by the event stream shows no second row', () => {
  const tasks = tasksOf(task('t1', { title: 'a' }));
  const asked = [];
  const claim = (title, afterIndex) => {
    asked.push([title, afterIndex]);
    return title === 'a' ? { id: 't1' } : null;
  };
  overlay({ kind: 'create', key: 'k', titles: ['a', 'b'], afterIndex: 4 }, tasks, claim);
  assert.deepEqual(asked, [['a', 4], ['b', 4]]);
  assert.deepEqual([...tasks.keys()], ['t1', 'pending:k:1']);
});

test('an answered create shows the tasks the answer names until their events arrive', () => {
  const tasks = tasksOf(task('t1'));
  overlay({ kind: 'create', key: 'k', titles: ['x'], result: task('t2') }, tasks);
  overlay({ kind: 'create', key: 'b', titles: ['y', 'z'], batch: true, result: { tasks: [task('t3'), task('t1', { title: 'stale' })] } }, tasks);
  assert.deepEqual([...tasks.keys()], ['t1', 't2', 't3']);
  assert.equal(tasks.get('t1').title, 'task t1', 'a task the list already holds is not replaced');
  assert.equal(tasks.get('t2').pending, undefined);
});

test('an unanswered update shows its changes, marked saving', () => {
  const tasks = tasksOf(task('t1'));
  overlay({ kind: 'update', id: 't1', changes: { title: 'renamed' } }, tasks);
  assert.equal(tasks.get('t1').title, 'renamed');
  assert.equal(tasks.get('t1').pending, 'saving');
});

test('an answered update stops showing once the list holds that version or a later one', () => {
  const action = { kind: 'update', id: 't1', changes: { completed: true }, result: task('t1', { completed: true, version: 2 }) };
  const behind = tasksOf(task('t1', { version: 1 }));
  overlay(action, behind);
  assert.equal(behind.get('t1').completed, true);
  assert.equal(behind.get('t1').pending, undefined);
  const caughtUp = tasksOf(task('t1', { version: 3, completed: false }));
  overlay(action, caughtUp);
  assert.equal(caughtUp.get('t1').completed, false, 'a later change by someone else wins');
});

test('an update of a task that is gone shows nothing', () => {
  const tasks = tasksOf(task('t1'));
  overlay({ kind: 'update', id: 't2', changes: { title: 'x' } }, tasks);
  assert.deepEqual([...tasks.keys()], ['t1']);
});

test('delete, clear and delete-all remove what they name at once', () => {
  const all = () => tasksOf(task('t1'), task('t2', { completed: true }), task('t3'));
  const deleted = all();
  overlay({ kind: 'delete', id: 't1' }, deleted);
  assert.deepEqual([...deleted.keys()], ['t2', 't3']);
  const cleared = all();
  overlay({ kind: 'clear' }, cleared);
  assert.deepEqual([...cleared.keys()], ['t1', 't3']);
  const emptied = all();
  overlay({ kind: 'deleteAll' }, emptied);
  assert.equal(emptied.size, 0);
});

test('marking all changes and marks only the tasks not already in that state', () => {
  const tasks = tasksOf(task('t1'), task('t2', { completed: true }));
  overlay({ kind: 'setAll', completed: true }, tasks);
  assert.equal(tasks.get('t1').completed, true);
  assert.equal(tasks.get('t1').pending, 'saving');
  assert.equal(tasks.get('t2').pending, undefined);
});

test('an unknown action is an error, not silently ignored', () => {
  assert.throws(() => overlay({ kind: 'rename-all' }, new Map()), /unknown action rename-all/);
});

test('ordered lists oldest first and pending additions last, in the order they were made', () => {
  const tasks = tasksOf(task('t5'), { id: 'pending:a:0', seq: Infinity }, task('t2'), { id: 'pending:b:0', seq: Infinity });
  assert.deepEqual(ordered(tasks).map((t) => t.id), ['t2', 't5', 'pending:a:0', 'pending:b:0']);
});

test('the URL hash picks the filter; anything unknown shows all', () => {
  assert.equal(routeFilter('#/active'), 'active');
  assert.equal(routeFilter('#/completed'), 'completed');
  assert.equal(routeFilter('#active'), 'active');
  assert.equal(routeFilter(''), 'all');
  assert.equal(routeFilter('#/'), 'all');
  assert.equal(routeFilter('#/nonsense'), 'all');
  assert.equal(routeFilter('#/constructor'), 'all', 'names inherited by every object are not filters');
});

test('the filters select active and completed tasks', () => {
  const tasks = [task('t1'), task('t2', { completed: true })];
  assert.deepEqual(tasks.filter(FILTERS.active).map((t) => t.id), ['t1']);
  assert.deepEqual(tasks.filter(FILTERS.completed).map((t) => t.id), ['t2']);
  assert.equal(tasks.filter(FILTERS.all).length, 2);
});

// ------------------------------------------------------------------------ a long list, a page at a time

const ids = (list) => list.view().ordered().map((t) => t.id);

test('older pages go before the tasks held, and the order stays by seq', () => {
  const list = new TaskList();
  list.replace([task('t6'), task('t5')]); // the first page, newest first
  list.addOlder([task('t4'), task('t3')]);
  list.addOlder([task('t2'), task('t1')]);
  assert.deepEqual(ids(list), ['t1', 't2', 't3', 't4', 't5', 't6']);
  list.apply({ type: 'created', id: 't7', task: task('t7') }, 9);
  assert.deepEqual(ids(list).slice(-2), ['t6', 't7']);
});

test('an older page cannot bring back a task deleted, or an older version of one changed, meanwhile', () => {
  const list = new TaskList();
  list.replace([task('t5')]);
  list.apply({ type: 'deleted', id: 't3' }, 10); // not loaded yet when its delete came
  list.apply({ type: 'updated', id: 't2', task: task('t2', { title: 'new', version: 2 }) }, 11);
  list.addOlder([task('t4'), task('t3'), task('t2'), task('t1')]);
  assert.deepEqual(ids(list), ['t1', 't2', 't4', 't5']);
  assert.equal(list.tasks.get('t2').title, 'new');
});

test('many deletions keep the order right and let go of the ids', () => {
  const list = new TaskList();
  const page = Array.from({ length: 500 }, (_, i) => task(`t${500 - i}`));
  list.replace(page);
  for (let i = 1; i <= 500; i += 1) if (i % 5) list.apply({ type: 'deleted', id: `t${i}` }, 600 + i);
  assert.deepEqual(ids(list), Array.from({ length: 100 }, (_, i) => `t${5 * (i + 1)}`));
  assert.ok(list.order.length < 300, `deleted ids let go of: ${list.order.length} left`);
});

test('a view shows what overlay changes without changing the list', () => {
  const list = new TaskList();
  list.replace([task('t1'), task('t2', { completed: true }), task('t3')]);
  const view = list.view();
  overlay({ kind: 'update', id: 't1', changes: { title: 'renamed' } }, view);
  overlay({ kind: 'delete', id: 't3' }, view);
  overlay({ kind: 'create', key: 'k', titles: ['new'], afterIndex: 0 }, view);
  assert.deepEqual(view.ordered().map((t) => [t.id, t.title]), [['t1', 'renamed'], ['t2', 'task t2'], ['pending:k:0', 'new']]);
  assert.deepEqual([...list.tasks.keys()], ['t1', 't2', 't3']);
  assert.equal(list.tasks.get('t1').title, 'task t1');
});

test('a view behaves as a copy of the list would, whatever is laid over it', () => {
  const actions = [
    { kind: 'update', id: 't2', changes: { completed: true } },
    { kind: 'delete', id: 't1' },
    { kind: 'create', key: 'a', titles: ['x', 'y'], afterIndex: 0 },
    { kind: 'clear' },
    { kind: 'setAll', completed: false },
    { kind: 'create', key: 'b', titles: ['z'], result: { tasks: [task('t9'), task('t3')] }, batch: true },
    { kind: 'deleteAll' },
    { kind: 'create', key: 'c', titles: ['w'], afterIndex: 0 },
  ];
  // Every sequence of up to three of them, from every starting point of the list.
  for (let i = 0; i < actions.length; i += 1) {
    for (let j = 0; j < actions.length; j += 1) {
      for (let k = 0; k < actions.length; k += 1) {
        const list = new TaskList();
        list.replace([task('t1'), task('t2', { completed: true }), task('t3'), task('t4')]);
        const view = list.view();
        const copy = new Map(list.tasks);
        for (const action of [actions[i], actions[j], actions[k]]) {
          overlay(action, view);
          overlay(action, copy);
        }
        assert.deepEqual([...view.entries()], [...copy.entries()], `${i} ${j} ${k}`);
        assert.deepEqual(view.ordered(), ordered(copy), `${i} ${j} ${k}`);
        assert.equal(view.size, copy.size);
      }
    }
  }
});

test('a deleted task created again with its id (an import) is listed once, in its new place', () => {
  const list = new TaskList();
  list.replace([task('t1'), task('t2'), task('t3')]);
  list.apply({ type: 'deleted', id: 't1' }, 4);
  list.apply({ type: 'deleted', id: 't2' }, 4);
  list.apply({ type: 'created', id: 't1', task: task('t1', { seq: 9, completed: true }) }, 5);
  assert.deepEqual(ordered(list.view()).map((t) => [t.id, t.seq]), [['t3', 3], ['t1', 9]]);
});

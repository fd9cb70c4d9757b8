// The list as the cluster has it, and the list as the page shows it.
//
// `TaskList` holds only what the cluster said: the list loaded at some log index, then every task event
// after it, in log order. The page's own writes never change it directly. What the page shows is that
// list with the user's pending actions laid over it (`overlay`, through a `TaskView`), so a click shows
// at once, survives a failover while it is re-sent, and disappears without a flicker once the event
// stream has caught up.
//
// A long list arrives a page at a time: the newest tasks first (`replace`), then older pages
// (`addOlder`) while the events already flow. Nothing here is proportional to the list per change:
// the order by seq is kept as changes come, and a view lays actions over the list without copying it.

const RECENT_MAX = 2000;

export class TaskList {
  constructor() {
    this.tasks = new Map();
    // Every task id, oldest first; ids of deleted tasks linger (skipped) until they are half of it.
    this.order = [];
    this.seqOf = new Map(); // id -> seq of every id in `order`
    this.gone = new Set(); // deleted since the list was loaded: an older page must not bring them back
    // The latest creations, {id, title, index}: an event can outrun the answer to the request that
    // caused it, and the page must then not show the task twice (see `claim`).
    this.recent = [];
  }

  // The first page of a fresh load (any order).
  replace(tasks) {
    const sorted = [...tasks].sort(bySeq);
    this.tasks = new Map(sorted.map((task) => [task.id, task]));
    this.order = sorted.map((task) => task.id);
    this.seqOf = new Map(sorted.map((task) => [task.id, task.seq]));
    this.gone = new Set();
    this.recent = [];
  }

  // A later page of the same load: tasks older than any held so far, answered at a later log index.
  // A task deleted or changed since the load began is known better from its events.
  addOlder(tasks) {
    const older = [];
    for (const task of tasks) {
      if (this.gone.has(task.id)) continue;
      const known = this.tasks.get(task.id);
      if (!known) older.push(task);
      else if (known.version < task.version) this.tasks.set(task.id, task);
    }
    older.sort(bySeq);
    const first = this.seqOf.get(this.order[0]) ?? Infinity;
    if (older.length && older.at(-1).seq < first) {
      // The usual case: the page goes before everything held.
      for (const task of older) {
        this.tasks.set(task.id, task);
        this.seqOf.set(task.id, task.seq);
      }
      this.order = older.map((task) => task.id).concat(this.order);
    } else {
      for (const task of older) {
        this.tasks.set(task.id, task);
        this.place(task);
      }
    }
  }

  // One `task` event: {type: created|updated|deleted, id, task}, at log index `index`.
  apply(change, index) {
    if (change.type === 'deleted') {
      if (this.tasks.delete(change.id)) this.compact();
      this.gone.add(change.id);
      return;
    }
    if (change.type === 'created') {
      this.recent.push({ id: change.id, title: change.task.title, index });
      if (this.recent.length > RECENT_MAX) this.recent.splice(0, this.recent.length - RECENT_MAX);
    }
    const known = this.tasks.get(change.id);
    // Events replayed after a reconnect may repeat one already applied: never go back a version.
    if (known && known.version > change.task.version) return;
    this.tasks.set(change.id, change.task);
    if (!known) this.place(change.task);
  }

  // A task new to `order`, in its place by seq: at the end for a creation, by bisection otherwise (an
  // event about a task of a page not loaded yet).
  place(task) {
    const { order, seqOf } = this;
    // A deleted task's id that comes back (an import recreates tasks with their ids) leaves its old
    // place first: shown twice, it would be counted twice.
    if (seqOf.has(task.id)) order.splice(order.indexOf(task.id), 1);
    let low = 0;
    let high = order.length;
    if (high && seqOf.get(order[high - 1]) < task.seq) low = high;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (seqOf.get(order[middle]) < task.seq) low = middle + 1;
      else high = middle;
    }
    order.splice(low, 0, task.id);
    seqOf.set(task.id, task.seq);
  }

  // Deleted ids stay in `order` (skipped: `tasks` no longer has them) until they are half of it.
  compact() {
    if (this.order.length <= 2 * this.tasks.size + 64) return;
    this.order = this.order.filter((id) => this.tasks.has(id));
    this.seqOf = new Map(this.order.map((id) => [id, this.seqOf.get(id)]));
  }

  // What the page shows: this list with actions laid over it, copying nothing.
  view() {
    return new TaskView(this);
  }
}

// A copy-on-write view of a TaskList's tasks with the Map interface `overlay` uses: reads fall through
// to the list, changes stay in the view. Iteration is the list's order of insertion, then the tasks the
// view added, as a copied Map's would be.
export class TaskView {
  constructor(list) {
    this.list = list;
    this.changed = new Map();
    this.removed = new Set();
    this.cleared = false;
  }

  get(id) {
    if (this.changed.has(id)) return this.changed.get(id);
    return this.cleared || this.removed.has(id) ? undefined : this.list.tasks.get(id);
  }

  has(id) {
    return this.get(id) !== undefined;
  }

  set(id, task) {
    this.changed.set(id, task);
    this.removed.delete(id);
    return this;
  }

  delete(id) {
    const had = this.has(id);
    this.changed.delete(id);
    this.removed.add(id);
    return had;
  }

  clear() {
    this.changed.clear();
    this.removed.clear();
    this.cleared = true;
  }

  *entries() {
    if (!this.cleared) {
      for (const [id, task] of this.list.tasks) if (!this.removed.has(id)) yield [id, this.changed.get(id) ?? task];
    }
    for (const entry of this.added()) yield entry;
  }

  *added() {
    for (const [id, task] of this.changed) if (this.cleared || !this.list.tasks.has(id)) yield [id, task];
  }

  *keys() {
    for (const [id] of this.entries()) yield id;
  }

  *values() {
    for (const [, task] of this.entries()) yield task;
  }

  [Symbol.iterator]() {
    return this.entries();
  }

  get size() {
    let n = 0;
    for (const _ of this.entries()) n += 1;
    return n;
  }

  // Oldest first: the list's own order, then what the view added, merged in by seq.
  ordered() {
    const shown = [];
    const { tasks, order } = this.list;
    if (!this.cleared) {
      for (const id of order) {
        if (this.removed.has(id)) continue;
        const task = this.changed.get(id) ?? tasks.get(id);
        if (task && tasks.has(id)) shown.push(task);
      }
    }
    const added = [...this.added()].map(([, task]) => task).sort(bySeq);
    if (!added.length) return shown;
    if (!shown.length || shown.at(-1).seq < added[0].seq) return shown.concat(added);
    return shown.concat(added).sort(bySeq);
  }
}

const bySeq = (a, b) => (a.seq === b.seq ? 0 : a.seq < b.seq ? -1 : 1);

// `action` laid over `tasks` (a Map it may change). An action that the cluster has answered (`result`)
// shows what the answer said until the events carrying it arrive; one still waiting shows what it
// will do, marked pending. `claim(title, afterIndex)` finds a task created since the action was made
// with that title, if its event came before the answer: then the real task shows, not a second row.
export function overlay(action, tasks, claim = () => null) {
  const mark = action.result ? {} : { pending: action.held ? 'held' : 'saving' };
  switch (action.kind) {
    case 'create': {
      if (action.result) {
        for (const task of action.result.tasks ?? [action.result]) if (!tasks.has(task.id)) tasks.set(task.id, task);
      } else {
        action.titles.forEach((title, i) => {
          if (claim(title, action.afterIndex)) return;
          const id = `pending:${action.key}:${i}`;
          tasks.set(id, { id, title, completed: false, seq: Infinity, version: 0, ...mark });
        });
      }
      break;
    }
    case 'update': {
      const task = tasks.get(action.id);
      const superseded = action.result && task && task.version >= action.result.version;
      if (task && !superseded) tasks.set(action.id, { ...task, ...action.changes, ...mark });
      break;
    }
    case 'delete':
      tasks.delete(action.id);
      break;
    case 'clear':
      for (const [id, task] of tasks) if (task.completed) tasks.delete(id);
      break;
    case 'deleteAll':
      tasks.clear();
      break;
    case 'setAll':
      for (const [id, task] of tasks) {
        if (task.completed !== action.completed) tasks.set(id, { ...task, completed: action.completed, ...mark });
      }
      break;
    default:
      throw new Error(`unknown action ${action.kind}`);
  }
}

// Oldest first, as TodoMVC lists them (the API's `seq` is the creation order in the log; pending
// additions, with seq Infinity, come last in the order they were made: the sort is stable). A view
// knows its order already; a plain Map is sorted.
export function ordered(tasks) {
  if (tasks instanceof TaskView) return tasks.ordered();
  return [...tasks.values()].sort(bySeq);
}

export const FILTERS = {
  all: () => true,
  active: (task) => !task.completed,
  completed: (task) => task.completed,
};

// '#/active' → 'active'; anything unknown is 'all'.
export function routeFilter(hash) {
  const name = hash.replace(/^#\/?/, '');
  return Object.hasOwn(FILTERS, name) ? name : 'all';
}

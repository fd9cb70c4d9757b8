// The list as the cluster has it, and the list as the page shows it.
//
// `TaskList` holds only what the cluster said: the list loaded at some log index, then every task event
// after it, in log order. The page's own writes never change it directly. What the page shows is that
// list with the user's pending actions laid over it (`overlay`), so a click shows at once, survives a
// failover while it is re-sent, and disappears without a flicker once the event stream has caught up.

const RECENT_MAX = 2000;

export class TaskList {
  constructor() {
    this.tasks = new Map();
    // The latest creations, {id, title, index}: an event can outrun the answer to the request that
    // caused it, and the page must then not show the task twice (see `claim`).
    this.recent = [];
  }

  replace(tasks) {
    this.tasks = new Map(tasks.map((task) => [task.id, task]));
    this.recent = [];
  }

  // One `task` event: {type: created|updated|deleted, id, task}, at log index `index`.
  apply(change, index) {
    if (change.type === 'deleted') {
      this.tasks.delete(change.id);
      return;
    }
    if (change.type === 'created') {
      this.recent.push({ id: change.id, title: change.task.title, index });
      if (this.recent.length > RECENT_MAX) this.recent.splice(0, this.recent.length - RECENT_MAX);
    }
    const known = this.tasks.get(change.id);
    // Events replayed after a reconnect may repeat one already applied: never go back a version.
    if (!known || known.version <= change.task.version) this.tasks.set(change.id, change.task);
  }
}

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
// additions, with seq Infinity, come last in the order they were made: the sort is stable).
export function ordered(tasks) {
  return [...tasks.values()].sort((a, b) => (a.seq === b.seq ? 0 : a.seq < b.seq ? -1 : 1));
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

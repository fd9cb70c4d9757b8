// The user's actions on their way to the cluster, one at a time and in order (a toggle sent after the
// edit it follows must arrive after it).
//
// Each action gets one Idempotency-Key when the user makes it and keeps it on every attempt: an action
// whose answer was lost (the node died mid-request) is sent again to whichever node the page moved
// to, and the cluster replays its first answer instead of applying it twice. Nothing is dropped while
// the cluster is merely electing or has no quorum; an action is given up only when the cluster refuses
// it (a 4xx), or after a long run of failures that are not failovers.

import { APPLIED_HEADER, NetworkError } from './connection.js';
import { newKey, sleep } from './dom.js';
import { overlay } from './model.js';

const WRITE_TIMEOUT_MS = 15_000; // the server itself waits up to write_wait_ms for a leader
const GIVE_UP_AFTER_MS = 60_000; // of 503s that are not "no quorum" (which waits as long as it takes)
const SETTLE_TIMEOUT_MS = 3000; // drop an answered action's overlay even if its events never come

export class Outbox {
  constructor(connection, handlers) {
    this.conn = connection;
    this.h = handlers; // onChange(), onWritten(action, path), onFailed(action, message), onNoQuorum(body)
    this.queue = []; // not yet answered; queue[0] is in flight
    this.settling = []; // answered, waiting for the event stream to reach their index
  }

  add(action) {
    action.key = newKey();
    action.sends = 0;
    action.afterIndex = this.conn.lastIndex ?? 0; // what it creates comes later in the log
    this.queue.push(action);
    this.h.onChange();
    if (this.queue.length === 1) this.pump();
  }

  // The shown list: the cluster's (a TaskList) with every action not yet reflected in it laid over.
  applyTo(list) {
    const shown = new Map(list.tasks);
    const claimed = new Set(); // each real task stands in for one pending row at most
    const claim = (title, afterIndex) => {
      const twin = list.recent.find(
        (t) => t.index > afterIndex && t.title === title && !claimed.has(t.id) && list.tasks.has(t.id),
      );
      if (twin) claimed.add(twin.id);
      return twin;
    };
    for (const action of this.settling) overlay(action, shown, claim);
    for (const action of this.queue) overlay(action, shown, claim);
    return shown;
  }

  // The event stream (or a reload) has reached `index`: answered actions up to it are in the list now.
  settleUpTo(index) {
    const before = this.settling.length;
    this.settling = this.settling.filter((a) => !(a.settleIndex <= index));
    if (this.settling.length !== before) this.h.onChange();
  }

  get busy() {
    return this.queue.length > 0;
  }

  async pump() {
    while (this.queue.length) {
      const action = this.queue[0];
      try {
        await this.deliver(action);
      } catch (err) {
        this.h.onFailed(action, String(err?.message || err));
      }
      this.queue.shift();
      this.h.onChange();
    }
  }

  async deliver(action) {
    const [method, path, body] = request(action);
    const headers = { 'Idempotency-Key': action.key };
    const started = performance.now();
    let target = null; // a leader named by a 421 (a node with forward_writes = false)
    for (;;) {
      const sentAt = performance.now();
      const base = target ?? this.conn.current;
      action.sends += 1;
      let res;
      try {
        res = await this.conn.request(method, path, { body, headers, timeout: WRITE_TIMEOUT_MS, base });
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
        target = null;
        await this.conn.failover(base); // then the same request, same key, to the node moved to
        continue;
      }
      if (res.ok || (res.status === 404 && action.kind === 'delete')) {
        // 404 on a delete: someone deleted it first; what the user wanted is true.
        if (action.held) action.held = false;
        action.result = res.ok ? res.body : null;
        action.settleIndex = Number(res.headers.get(APPLIED_HEADER)) || 0;
        if (!(action.settleIndex <= this.conn.lastIndex)) {
          this.settling.push(action);
          setTimeout(() => this.settleAction(action), SETTLE_TIMEOUT_MS);
        }
        this.h.onWritten(action, writePath(res, performance.now() - sentAt, action.sends));
        return;
      }
      const code = res.body?.error;
      const wait = retryAfterMs(res);
      if (res.status === 421 && res.body?.leader) {
        target = res.body.leader;
        continue;
      }
      if (code === 'no_quorum') {
        // Not a failure: the cluster will take it once enough nodes are back. The page shows why.
        action.held = true;
        this.h.onNoQuorum(res.body);
        this.h.onChange();
        await sleep(wait);
        continue;
      }
      if ((res.status === 503 || res.status === 507) && performance.now() - started < GIVE_UP_AFTER_MS) {
        await sleep(wait); // an election, an unknown outcome (the key makes the retry safe), overload
        continue;
      }
      this.h.onFailed(action, res.body?.message || `HTTP ${res.status}`);
      return;
    }
  }

  settleAction(action) {
    const before = this.settling.length;
    this.settling = this.settling.filter((a) => a !== action);
    if (this.settling.length !== before) this.h.onChange();
  }
}

function request(action) {
  const task = (id) => `/tasks/${encodeURIComponent(id)}`;
  switch (action.kind) {
    case 'create':
      return action.batch
        ? ['POST', '/tasks/batch', { tasks: action.titles.map((title) => ({ title })) }]
        : ['POST', '/tasks', { title: action.titles[0] }];
    case 'update':
      return ['PATCH', task(action.id), action.changes];
    case 'delete':
      return ['DELETE', task(action.id)];
    case 'clear':
      return ['DELETE', '/tasks?completed=true'];
    case 'deleteAll':
      return ['DELETE', '/tasks?all=true'];
    case 'setAll':
      return ['PATCH', '/tasks', { completed: action.completed }];
    default:
      throw new Error(`unknown action ${action.kind}`);
  }
}

// Where a write went: the node that received it (it names itself in X-Todonode-Forwarded-By when it
// passed the write on) and the leader that ordered it.
function writePath(res, ms, sends) {
  const h = res.headers;
  const leader = h.get('X-Todonode-Leader');
  const receivedBy = h.get('X-Todonode-Forwarded-By') || h.get('X-Todonode-Node');
  return {
    receivedBy,
    leader,
    forwarded: Boolean(h.get('X-Todonode-Forwarded-By')),
    index: Number(h.get(APPLIED_HEADER)) || null,
    ms,
    replayed: h.get('Idempotent-Replayed') === 'true',
    sends,
    at: Date.now(),
  };
}

function retryAfterMs(res) {
  const seconds = Number(res.headers.get('Retry-After') ?? res.body?.retry_after);
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 5) * 1000 : 500;
}

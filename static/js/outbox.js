// The user's actions on their way to the cluster, one at a time and in order (a toggle sent after the
// edit it follows must arrive after it).
//
// Each action gets one Idempotency-Key when the user makes it and keeps it on every attempt: an action
// whose answer was lost (the node died mid-request) is sent again to whichever node the page moved
// to, and the cluster replays its first answer instead of applying it twice. What each answer means
// (done, retry, hold for quorum, go to the leader, give up) is decided in write-policy.js; this file
// sends, waits and keeps the queue.

import { NetworkError } from './connection.js';
import { overlay } from './model.js';
import { appliedIndex } from './protocol.js';
import { nextStep, requestFor, writePath } from './write-policy.js';

const WRITE_TIMEOUT_MS = 15_000; // the server itself waits up to write_wait_ms for a leader
const SETTLE_TIMEOUT_MS = 3000; // drop an answered action's overlay even if its events never come

export class Outbox {
  // `connection`: the page's Connection (request, failover, current, lastIndex).
  // `handlers`: onChange(), onWritten(action, path), onFailed(action, message), onNoQuorum(body).
  // `newKey()` names an action once; `sleep(ms)` waits between attempts.
  constructor(connection, handlers, { newKey, sleep }) {
    this.conn = connection;
    this.h = handlers;
    this.newKey = newKey;
    this.sleep = sleep;
    this.queue = []; // not yet answered; queue[0] is in flight
    this.settling = []; // answered, waiting for the event stream to reach their index
  }

  add(action) {
    action.key = this.newKey();
    action.sends = 0;
    action.afterIndex = this.conn.lastIndex ?? 0; // what it creates comes later in the log
    this.queue.push(action);
    this.h.onChange();
    if (this.queue.length === 1) this.pump();
  }

  // The shown list: the cluster's (a TaskList) with every action not yet reflected in it laid over.
  applyTo(list) {
    const shown = list.view(); // the list itself, uncopied; what the actions change stays in the view
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
    const { method, path, body } = requestFor(action);
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
      const step = nextStep(action, res, performance.now() - started);
      switch (step.kind) {
        case 'done':
          this.answered(action, step.result, res, performance.now() - sentAt);
          return;
        case 'leader':
          target = step.url;
          break;
        case 'hold':
          action.held = true; // shown as waiting for quorum, not as failed
          this.h.onNoQuorum(res.body);
          this.h.onChange();
          await this.sleep(step.waitMs);
          break;
        case 'retry':
          await this.sleep(step.waitMs);
          break;
        default:
          this.h.onFailed(action, step.message);
          return;
      }
    }
  }

  answered(action, result, res, ms) {
    action.held = false;
    action.result = result;
    action.settleIndex = appliedIndex(res.headers);
    if (!(action.settleIndex <= this.conn.lastIndex)) {
      this.settling.push(action);
      this.sleep(SETTLE_TIMEOUT_MS).then(() => this.settleAction(action));
    }
    this.h.onWritten(action, writePath(res, { ms, sends: action.sends, at: Date.now() }));
  }

  settleAction(action) {
    const before = this.settling.length;
    this.settling = this.settling.filter((a) => a !== action);
    if (this.settling.length !== before) this.h.onChange();
  }
}

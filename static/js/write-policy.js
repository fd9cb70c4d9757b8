// What the outbox does with each answer to a write, decided without I/O: the outbox (outbox.js) sends,
// waits and re-sends; this module only says which request an action is and what an answer means.
// Pure, so that Node can test it (tests/js).

import { appliedIndex } from './protocol.js';

// Of 503s that are not "no quorum" (an election, an unknown outcome, overload): past this, give up.
// "No quorum" is never given up on: the cluster takes the write once enough nodes are back.
export const GIVE_UP_AFTER_MS = 60_000;
const RETRY_AFTER_MAX_S = 5; // a page waiting longer than this between tries looks stuck
const RETRY_DEFAULT_MS = 500; // when the answer names no wait

// The request an action becomes: {method, path, body}.
export function requestFor(action) {
  const task = (id) => `/tasks/${encodeURIComponent(id)}`;
  switch (action.kind) {
    case 'create':
      return action.batch
        ? { method: 'POST', path: '/tasks/batch', body: { tasks: action.titles.map((title) => ({ title })) } }
        : { method: 'POST', path: '/tasks', body: { title: action.titles[0] } };
    case 'update':
      return { method: 'PATCH', path: task(action.id), body: action.changes };
    case 'delete':
      return { method: 'DELETE', path: task(action.id) };
    case 'clear':
      return { method: 'DELETE', path: '/tasks?completed=true' };
    case 'deleteAll':
      return { method: 'DELETE', path: '/tasks?all=true' };
    case 'setAll':
      return { method: 'PATCH', path: '/tasks', body: { completed: action.completed } };
    default:
      throw new Error(`unknown action ${action.kind}`);
  }
}

// What to do after an HTTP answer `res` ({status, ok, body, headers}) to `action`, first sent
// `elapsedMs` ago. One of:
//   {kind: 'done', result}      the cluster did it; `result` is the answer's body (null: nothing to show)
//   {kind: 'leader', url}       send it to that node instead (a 421 from a node that does not forward)
//   {kind: 'hold', waitMs}      no quorum: keep it, show why, send it again after waitMs
//   {kind: 'retry', waitMs}     a passing failure: send it again after waitMs, under the same key
//   {kind: 'fail', message}     the cluster refused it, or it kept failing for too long: give up
export function nextStep(action, res, elapsedMs) {
  if (res.ok) return { kind: 'done', result: res.body };
  // Someone deleted it first: what the user wanted is true.
  if (res.status === 404 && action.kind === 'delete') return { kind: 'done', result: null };
  if (res.status === 421 && res.body?.leader) return { kind: 'leader', url: res.body.leader };
  const waitMs = retryAfterMs(res);
  if (res.body?.error === 'no_quorum') return { kind: 'hold', waitMs };
  // A full list stays full until someone deletes: waiting would not help.
  const passing = res.status === 503 || (res.status === 507 && res.body?.error !== 'quota_exceeded');
  if (passing && elapsedMs < GIVE_UP_AFTER_MS) return { kind: 'retry', waitMs };
  return { kind: 'fail', message: res.body?.message || `HTTP ${res.status}` };
}

// The wait the answer asks for (Retry-After, or retry_after in its body), capped.
export function retryAfterMs(res) {
  const seconds = Number(res.headers.get('Retry-After') ?? res.body?.retry_after);
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, RETRY_AFTER_MAX_S) * 1000 : RETRY_DEFAULT_MS;
}

// Where a write went, for the panel: the node that received it (it names itself in
// X-Todonode-Forwarded-By when it passed the write on) and the leader that ordered it. `ms` is how long
// the answering attempt took, `sends` how many attempts there were, `at` when it was answered.
export function writePath(res, { ms, sends, at }) {
  const h = res.headers;
  const forwardedBy = h.get('X-Todonode-Forwarded-By');
  return {
    receivedBy: forwardedBy || h.get('X-Todonode-Node'),
    leader: h.get('X-Todonode-Leader'),
    forwarded: Boolean(forwardedBy),
    index: appliedIndex(h) || null,
    ms,
    replayed: h.get('Idempotent-Replayed') === 'true',
    sends,
    at,
  };
}

// Wiring: the connection feeds the task list and the cluster panel; the user's actions go through the
// outbox; every change schedules one render of everything from that state.

import { Connection } from './connection.js';
import { $, newKey, setText, sleep } from './dom.js';
import { lang, setLanguage, t, translateStatic } from './i18n.js';
import { ordered, routeFilter, TaskList } from './model.js';
import { Outbox } from './outbox.js';
import { ClusterPanel } from './panel.js';
import { TodoView } from './todos.js';

const list = new TaskList();
const panel = new ClusterPanel($('.cluster'), (url) => conn.idOf(url));
let readOnly = null; // {up, total, need} (or {message}) while the cluster cannot take writes
const READ_ONLY_AFTER_MS = 1500;
let shortSince = null; // since when the status polls have seen too few nodes for a quorum
let connection = { state: 'connecting', url: location.origin };
let errorTimer = 0;

// ------------------------------------------------------------------------------------ announcing

const announcer = $('#announcer');
function announce(text) {
  // Cleared first, so that the same sentence twice is still read twice.
  announcer.textContent = '';
  setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

function showError(text) {
  const el = $('#error');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => {
    el.hidden = true;
  }, 8000);
}

// What an action did, in words: for the live region and the panel's "last write".
function describe(action) {
  switch (action.kind) {
    case 'create':
      return action.batch ? t('addedMany', { n: action.titles.length }) : t('added', { title: action.titles[0] });
    case 'update':
      if ('title' in action.changes) return t('renamedTask', { title: action.changes.title });
      return t(action.changes.completed ? 'completedTask' : 'reopenedTask', { title: action.title });
    case 'delete':
      return t('deletedTask', { title: action.title });
    case 'clear':
      return t('clearedCompleted');
    case 'deleteAll':
      return t('deletedAll');
    default:
      return t('markedAll');
  }
}

// ------------------------------------------------------------------------------------ state flow

function setReadOnly(next) {
  const was = Boolean(readOnly);
  readOnly = next;
  if (was !== Boolean(next)) {
    panel.readOnlyChanged(next);
    if (next) announce(`${t('readOnlyTitle')} ${readOnlyText()}`);
    else announce(t('tl_writable'));
  }
  schedule();
}

function readOnlyText() {
  if (!readOnly) return '';
  return readOnly.up != null ? t('readOnlyReason', readOnly) : t('readOnlyFallback');
}

const conn = new Connection(location.origin, {
  onTasks(tasks, index) {
    list.replace(tasks);
    outbox.settleUpTo(index);
    schedule();
  },
  onTaskEvent(change, index) {
    list.apply(change, index);
    outbox.settleUpTo(index);
    schedule();
  },
  onClusterEvent(event, base) {
    panel.clusterEvent(event, base);
    schedule();
  },
  onStatus(cluster) {
    panel.status(cluster, conn.current);
    const q = panel.quorum();
    // Writes need a majority of the members reachable; the node in use knows how many it reaches.
    // One short view is not enough to lock the page (a heartbeat late under load can make a peer
    // look gone for a moment): read-only needs the shortage to last, or a no_quorum answer to a
    // write. Quorum seen once is enough to unlock.
    const short = Boolean(q && q.up < q.need);
    if (!short) shortSince = null;
    else shortSince ??= Date.now();
    if (!short) setReadOnly(null);
    else if (Date.now() - shortSince >= READ_ONLY_AFTER_MS) setReadOnly(q);
    schedule();
  },
  onNodeStatus(url, own) {
    panel.nodeStatus(url, own);
    schedule();
  },
  onState(info) {
    connection = { state: info.state, url: info.to ?? info.from ?? connection.url };
    panel.connectionState(info);
    if (info.state === 'connected' && info.moved) {
      announce(t('switchedNode', { from: conn.idOf(info.from), to: conn.idOf(info.to) }));
    }
    schedule();
  },
});

const outbox = new Outbox(conn, {
  onChange: schedule,
  onWritten(action, path) {
    const summary = describe(action);
    panel.write(summary, path);
    announce(summary);
    schedule();
  },
  onFailed(action, message) {
    const text = t('writeFailed', { message });
    showError(text);
    announce(text);
    schedule();
  },
  onNoQuorum(body) {
    const up = body?.reachable;
    const need = body?.needed;
    const total = panel.quorum()?.total;
    setReadOnly(up != null && need != null && total ? { up, need, total } : { message: body?.message });
  },
}, { newKey, sleep });

const todos = new TodoView($('.todoapp'), {
  dispatch: (action) => outbox.add(action),
  announce,
  showError,
});

// ------------------------------------------------------------------------------------ rendering

let scheduled = false;
function schedule() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    render();
  });
}

function render(options = {}) {
  const tasks = ordered(outbox.applyTo(list));
  todos.render({ tasks, filter: routeFilter(location.hash), readOnly: Boolean(readOnly) });
  panel.render(options);
  renderConnection();
  const banner = $('#readonly-banner');
  banner.hidden = !readOnly;
  setText($('#readonly-reason'), readOnlyText());
  document.body.classList.toggle('is-readonly', Boolean(readOnly));
}

function renderConnection() {
  const el = $('#connection');
  el.dataset.state = connection.state;
  const label = { connecting: 'connecting', connected: 'connectedTo', switching: 'switching', offline: 'offline' }[connection.state];
  setText($('#connection-label'), t(label));
  setText($('#connection-node'), connection.state === 'connected' ? conn.idOf(connection.url) : '');
  el.title = connection.url ?? '';
}

// ------------------------------------------------------------------------------------ language

function applyLanguage(code) {
  setLanguage(code);
  translateStatic();
  for (const button of document.querySelectorAll('.lang-btn')) {
    button.setAttribute('aria-pressed', String(button.dataset.lang === lang()));
  }
  render({ languageChanged: true });
}

for (const button of document.querySelectorAll('.lang-btn')) {
  button.addEventListener('click', () => applyLanguage(button.dataset.lang));
}

window.addEventListener('hashchange', schedule);
applyLanguage(lang());
conn.start();

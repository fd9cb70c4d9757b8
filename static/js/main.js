// The page, put together in one place: each part is built once, from parts built before it; then the
// parts are wired to one another, and the page is drawn and connected. A part knows only what it is
// given here: the connection feeds the task list and the cluster panel, the user's actions go through
// the outbox, and every change schedules one render of the whole page from that state. In demo mode
// (make demo) demo.js adds its controls and views to the same page.

import { Credentials } from './auth.js';
import { PageChrome } from './chrome.js';
import { Connection } from './connection.js';
import { DemoMode } from './demo.js';
import { $, newKey, RenderQueue, sleep } from './dom.js';
import { lang, setLanguage, t, translateStatic } from './i18n.js';
import { MembersAdmin } from './members-admin.js';
import { ordered, routeFilter, TaskList } from './model.js';
import { Outbox } from './outbox.js';
import { ClusterPanel } from './panel.js';
import { ReadOnlyGate } from './read-only.js';
import { describe, TodoView } from './todos.js';
import { TaskTransfer } from './transfer.js';

function composePage(doc) {
  // ---------------------------------------------------------------------------------- the parts
  const win = doc.defaultView;
  const credentials = new Credentials({
    storage: win.sessionStorage,
    ask: (wrong) => win.prompt(t(wrong ? 'tokenWrong' : 'tokenNeeded'), ''),
  });
  const conn = new Connection(doc.location.origin, credentials);
  const idOf = (url) => conn.idOf(url);
  const list = new TaskList();
  const gate = new ReadOnlyGate();
  const chrome = new PageChrome(doc, idOf);
  const panel = new ClusterPanel($('.cluster', doc), idOf);
  const redraw = new RenderQueue();
  const demo = new DemoMode(doc, { conn, panel, chrome, redraw: redraw.schedule });
  const admin = new MembersAdmin($('.members-admin', doc), { win, base: () => conn.current, onChange: redraw.schedule });

  // The gate answers true when the page became read-only or writable: the timeline and the live
  // region say so once.
  const readOnlyMayHaveChanged = (changed) => {
    if (changed) {
      panel.readOnlyChanged(gate.reason);
      chrome.readOnlyChanged(gate.reason);
    }
    redraw.schedule();
  };

  const outbox = new Outbox(
    conn,
    {
      onChange: redraw.schedule,
      onWritten(action, path) {
        readOnlyMayHaveChanged(gate.written(path));
        const summary = describe(action);
        panel.write(summary, path);
        chrome.announce(summary);
        redraw.schedule();
      },
      onFailed(action, message) {
        const text = t('writeFailed', { message });
        chrome.showError(text);
        chrome.announce(text);
        redraw.schedule();
      },
      onNoQuorum(body) {
        readOnlyMayHaveChanged(gate.refused(body, panel.quorum()));
      },
    },
    { newKey, sleep },
  );

  const todos = new TodoView($('.todoapp', doc), {
    dispatch: (action) => outbox.add(action),
    announce: (text) => chrome.announce(text),
    showError: (text) => chrome.showError(text),
  });
  new TaskTransfer($('.transfer', doc), { win, conn, credentials, announce: (text) => chrome.announce(text), newKey, sleep });

  // ------------------------------------------------------------------------------ the rendering
  const render = ({ languageChanged = false } = {}) => {
    const tasks = ordered(outbox.applyTo(list));
    todos.render({ tasks, filter: routeFilter(doc.location.hash), readOnly: gate.readOnly });
    panel.render({ languageChanged });
    demo.render();
    chrome.render(gate.reason);
  };
  const showLanguage = (code) => {
    setLanguage(code);
    translateStatic(doc);
    admin.render();
    chrome.languageShown();
    render({ languageChanged: true });
  };

  // ------------------------------------------------------------------------ the wiring, the start
  redraw.renderWith(render);
  chrome.onLanguagePicked(showLanguage);
  doc.defaultView.addEventListener('hashchange', redraw.schedule);
  showLanguage(lang());
  conn.start({
    onTasks(tasks, index) {
      list.replace(tasks);
      outbox.settleUpTo(index);
      redraw.schedule();
    },
    onOlderTasks(tasks) {
      list.addOlder(tasks);
      redraw.schedule();
    },
    onTaskEvent(change, index) {
      list.apply(change, index);
      outbox.settleUpTo(index);
      redraw.schedule();
    },
    onClusterEvent(event, base) {
      panel.clusterEvent(event, base);
      redraw.schedule();
    },
    onStatus(cluster, base) {
      panel.status(cluster, base);
      readOnlyMayHaveChanged(gate.observe(panel.quorum(), Date.now()));
    },
    onNodeStatus(url, own) {
      panel.nodeStatus(url, own);
      demo.noticed(own);
      redraw.schedule();
    },
    onState(info) {
      chrome.connectionState(info);
      panel.connectionState(info);
      demo.connectionState(info);
      redraw.schedule();
    },
  });
}

composePage(document);

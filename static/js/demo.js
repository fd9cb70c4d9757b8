// Demo mode (`make demo`): the classroom cluster's part of the page. It shows only when the node the
// page talks to answers GET /demo, which nodes do only in demo mode and only to this machine (see
// src/todonode/api/demo.py); anywhere else the page is as it always was.
//
// What it adds: fault buttons on every node card (their state shows at once, before the supervisor
// confirms it), the live view of the messages between the nodes (messages-view.js), each election
// told on the timeline from what the nodes reported (narration.js), and guided experiments
// (experiments-view.js). Everything comes from GET /demo/events on the node in use, which relays the
// demo supervisor's stream: the state of every node's process, and each node's report of the
// messages it sent and the roles and votes it went through.

import { $, h, newKey, setText, sleep } from './dom.js';
import { clock, duration, t } from './i18n.js';
import { ExperimentsView, listOf } from './experiments-view.js';
import { MessagesView } from './messages-view.js';
import { Narrator } from './narration.js';

const ACTIONS = ['stop', 'pause', 'resume', 'restart', 'isolate', 'heal', 'slow-disk', 'normal-disk'];
// What each action makes of a node's state, shown until the supervisor's answer replaces it.
const EXPECTED = {
  stop: () => ({ process: 'down' }),
  pause: () => ({ process: 'paused' }),
  resume: () => ({ process: 'running' }),
  restart: () => ({ process: 'restarting' }),
  isolate: () => ({ isolated: true }),
  heal: () => ({ isolated: false }),
  'slow-disk': (state) => ({ disk_delay_ms: state.slow_disk_ms }),
  'normal-disk': () => ({ disk_delay_ms: 0 }),
};
const RETRY_MS = 1000;
const CONTROL_TIMEOUT_MS = 12000;
const WATCH_EVERY_MS = 250;
const PROBES_KEPT = 20;
const REPORT_MS = 200; // how often each node reports (config demo.report_ms)

export class DemoMode {
  // `page`: conn (connection.js), panel (panel.js), chrome (chrome.js), redraw() schedules a render.
  constructor(doc, page) {
    this.doc = doc;
    this.page = page;
    this.state = null; // the supervisor's last word: GET /demo
    this.expected = new Map(); // node id → what an action in flight will make of it
    this.narrator = new Narrator();
    this.probes = [];
    this.stream = null;
    this.messages = null;
    this.experiments = null;
    this.starting = null;
  }

  get active() {
    return this.state !== null;
  }

  // A node's status (GET /status) says whether it runs in demo mode; the first that does starts it.
  noticed(status) {
    if (status?.demo && !this.starting) this.starting = this.start();
  }

  // Ask the node in use for the demo's state; then show the demo's parts and follow its stream. (From
  // beyond this machine the demo routes do not exist, and nothing shows.)
  async start() {
    const { conn } = this.page;
    for (;;) {
      try {
        const res = await conn.request('GET', '/demo', { timeout: 3000, track: false });
        if (res.ok) this.activate(res.body);
        return;
      } catch {
        await sleep(RETRY_MS); // no answer: the page is moving to another node; ask there
      }
    }
  }

  activate(state) {
    const { doc, page } = this;
    doc.body.classList.add('is-demo');
    const messages = $('#messages', doc);
    const experiments = $('#experiments', doc);
    messages.hidden = experiments.hidden = false;
    this.messages = new MessagesView(messages);
    this.experiments = new ExperimentsView(experiments, {
      act: (node, action) => this.act(node, action),
      probe: (kind) => this.probe(kind),
      picture: () => this.picture(),
      probeText: () => this.probeText(),
      changed: page.redraw,
    });
    page.panel.processOf = (id) => this.node(id)?.process ?? null;
    page.panel.decorate = (card, member) => this.decorate(card, member.id);
    page.panel.electionsToldElsewhere = true;
    $('.nodes', doc).addEventListener('click', (e) => this.clicked(e));
    this.setState(state);
    this.openStream();
    setInterval(() => this.watch(), WATCH_EVERY_MS);
  }

  // ---------------------------------------------------------------------------------------- the stream

  openStream() {
    this.stream?.close();
    const es = new EventSource(new URL('/demo/events', this.page.conn.current));
    this.stream = es;
    es.addEventListener('state', (e) => this.setState(JSON.parse(e.data)));
    es.addEventListener('report', (e) => this.report(JSON.parse(e.data)));
    es.addEventListener('error', () => {
      if (es !== this.stream) return;
      es.close(); // EventSource would retry the same node; the page may have moved to another
      setTimeout(() => {
        if (es === this.stream) this.openStream();
      }, RETRY_MS);
    });
  }

  // The page moved to another node: follow it there at once.
  connectionState(info) {
    if (this.active && info.state === 'connected' && info.moved) this.openStream();
  }

  setState(state) {
    const before = this.state;
    this.state = state;
    if (before) this.tellChanges(before, state);
    this.messages.setCluster(this.clusterForView(), state.slow, REPORT_MS);
    this.watch();
    this.page.redraw();
  }

  // Each change of a node's process or faults, once, on the timeline.
  tellChanges(before, after) {
    const old = new Map(before.nodes.map((n) => [n.id, n]));
    for (const n of after.nodes) {
      const o = old.get(n.id);
      if (!o) continue;
      const node = n.id;
      if (n.process !== o.process) {
        const key = { down: 'tl_demo_down', paused: 'tl_demo_paused', restarting: 'tl_demo_restarting' }[n.process]
          ?? (o.process === 'paused' ? 'tl_demo_resumed' : null);
        if (key) this.page.panel.tell({ at: Date.now(), kind: `demo-${n.process}`, key, params: { node } });
      }
      if (n.isolated !== o.isolated) {
        this.page.panel.tell({ at: Date.now(), kind: 'demo-fault', key: n.isolated ? 'tl_demo_isolated' : 'tl_demo_healed', params: { node } });
      }
      if (n.disk_delay_ms !== o.disk_delay_ms) {
        const key = n.disk_delay_ms ? 'tl_demo_slow' : 'tl_demo_normal';
        this.page.panel.tell({ at: Date.now(), kind: 'demo-fault', key, params: { node, ms: duration(n.disk_delay_ms) } });
      }
    }
  }

  report(report) {
    const { panel } = this.page;
    this.messages.report(report);
    for (const event of report.events) {
      // A node's role change reaches the page here within a report interval: sooner than the status
      // polls. Replayed reports of older terms must not move the page's picture back.
      if (event.type === 'role' && event.term >= panel.term) panel.clusterEvent(event, this.urlOf(event.node));
      const told = this.narrator.feed(event);
      if (told?.story && told.isNew) {
        const { story } = told;
        panel.tell({ at: story.at, kind: 'story', render: () => this.storyText(story) });
      } else if (told?.story) {
        panel.retell();
      } else if (told?.line) {
        panel.tell({ at: told.line.at, kind: 'stepped-down', key: told.line.key, params: told.line.params });
      }
    }
    if (report.events.length) this.page.redraw();
  }

  // -------------------------------------------------------------------------------------- the nodes

  node(id) {
    const known = this.state?.nodes.find((n) => n.id === id);
    return known ? { ...known, ...this.expected.get(id) } : null;
  }

  urlOf(id) {
    return this.state?.nodes.find((n) => n.id === id)?.url ?? null;
  }

  clusterForView() {
    const roles = this.page.panel.view().roles;
    return this.state.nodes.map((n) => {
      const node = this.node(n.id);
      return { id: n.id, process: node.process, isolated: node.isolated, diskDelayMs: node.disk_delay_ms, role: roles[n.id]?.role };
    });
  }

  clicked(event) {
    const button = event.target.closest('button[data-action]');
    const card = button?.closest('[data-node]');
    if (card) this.act(card.dataset.node, button.dataset.action);
  }

  // Do `action` to `node`, through any node but that one when another answers: a node asked to stop
  // or pause itself could not deliver the answer.
  async act(node, action) {
    const { conn, chrome } = this.page;
    this.expected.set(node, EXPECTED[action](this.state));
    this.experiments.acted(node, action, Date.now());
    this.messages.setCluster(this.clusterForView(), this.state.slow, REPORT_MS);
    this.page.redraw();
    const others = this.state.nodes.filter((n) => n.id !== node && n.process === 'running').map((n) => n.url);
    const bases = [...new Set([conn.current, ...others, this.urlOf(node)])].filter((url) => conn.idOf(url) !== node || others.length === 0);
    try {
      for (const base of bases) {
        let res;
        try {
          res = await conn.request('POST', `/demo/nodes/${node}/${action}`, { body: {}, base, timeout: CONTROL_TIMEOUT_MS, track: false });
        } catch {
          continue; // that node did not answer: ask the next
        }
        if (res.ok) {
          this.expected.delete(node);
          this.setState(res.body);
        } else {
          chrome.showError(t('demoRefused', { message: res.body?.message ?? res.status }));
        }
        return;
      }
      chrome.showError(t('demoRefused', { message: t('probeNoAnswer') }));
    } finally {
      this.expected.delete(node);
      this.messages.setCluster(this.clusterForView(), this.state.slow, REPORT_MS);
      this.page.redraw();
    }
  }

  // The controls and the fault chips of one node card (panel.js calls this as it draws the card).
  decorate(card, id) {
    const node = this.node(id);
    if (!node) return;
    let box = $('.demo-controls', card);
    if (!box) {
      card.append(
        h('div', { class: 'demo-chips' }, h('span', { class: 'demo-chip chip-cut' }), h('span', { class: 'demo-chip chip-disk' })),
        (box = h('div', { class: 'demo-controls', role: 'group' },
          ACTIONS.map((action) => h('button', { type: 'button', class: `demo-btn demo-${action}`, dataset: { action } })))),
      );
    }
    const { process, isolated } = node;
    const slow = node.disk_delay_ms > 0;
    card.dataset.process = process;
    card.dataset.isolated = String(isolated);
    card.dataset.slowDisk = String(slow);
    box.setAttribute('aria-label', t('demoControls', { node: id }));
    const hidden = {
      stop: process === 'down',
      pause: process !== 'running',
      resume: process !== 'paused',
      restart: false,
      isolate: isolated,
      heal: !isolated,
      'slow-disk': slow,
      'normal-disk': !slow,
    };
    for (const button of box.querySelectorAll('button')) {
      const { action } = button.dataset;
      button.hidden = hidden[action];
      button.disabled = this.expected.has(id);
      setText(button, t(action === 'restart' && process === 'down' ? 'demo_start' : `demo_${action}`));
      button.title = t(`demoTitle_${action}`, { ms: duration(this.state.slow_disk_ms) });
    }
    const cut = $('.chip-cut', card);
    cut.hidden = !isolated;
    setText(cut, `✂ ${t('demoCutOff')}`);
    const disk = $('.chip-disk', card);
    disk.hidden = !slow;
    setText(disk, `◔ ${t('demoSlowDisk', { ms: duration(node.disk_delay_ms) })}`);
  }

  // -------------------------------------------------------------------------------------- elections

  storyText(story) {
    const outcome = {
      won: () => t('storyWon', { node: story.winner, votes: story.votes, voters: story.voters }),
      ended: () => t('storyEnded'),
      open: () => t('storyOpen'),
    }[story.outcome]();
    return [
      h('span', { class: 'story-head' }, h('strong', {}, t('storyTitle', { term: story.term })), ` · ${outcome}`),
      h('ol', { class: 'story-lines' }, story.lines.map((line) => h('li', { class: `story-line ${line.key}` }, lineText(line)))),
    ];
  }

  // ------------------------------------------------------------------------------------ experiments

  picture() {
    const view = this.page.panel.view();
    return {
      now: Date.now(),
      slowDiskMs: this.state.slow_disk_ms,
      nodes: this.state.nodes.map((n) => ({ id: n.id, process: n.process, isolated: n.isolated, diskDelayMs: n.disk_delay_ms })),
      roles: view.roles,
      leader: view.leader,
      term: view.term,
      quorum: view.quorum,
      probes: this.probes,
    };
  }

  watch() {
    if (this.experiments?.observe()) this.page.redraw();
  }

  // Try a write (and a read) on the node in use, for an experiment: what came back, and how long it took.
  async probe(kind) {
    const { conn } = this.page;
    const slow = this.state.slow;
    if (kind === 'write' || kind === 'both') {
      const title = t('probeTitle', { time: clock(Date.now()) });
      const timeout = 8000 * slow;
      await this.measure('write', () => conn.request('POST', '/tasks', { body: { title }, headers: { 'Idempotency-Key': newKey() }, timeout, track: false }));
    }
    if (kind === 'read' || kind === 'both') {
      await this.measure('read', () => conn.request('GET', '/tasks', { timeout: 5000, track: false }));
    }
  }

  async measure(kind, send) {
    const started = performance.now();
    let probe;
    try {
      const res = await send();
      probe = {
        kind,
        ok: res.ok,
        status: res.status,
        error: res.body?.error ?? '',
        message: res.body?.message ?? '',
        count: res.body?.tasks?.length ?? null,
      };
    } catch {
      probe = { kind, ok: false, status: 0, error: '', message: t('probeNoAnswer') };
    }
    this.probes = [...this.probes, { ...probe, at: Date.now(), ms: performance.now() - started }].slice(-PROBES_KEPT);
    this.watch();
    this.page.redraw();
  }

  probeText() {
    const last = (kind) => [...this.probes].reverse().find((p) => p.kind === kind);
    const write = last('write');
    const read = last('read');
    const parts = [];
    if (write) parts.push(write.ok ? t('probeWritten', { ms: duration(write.ms) }) : t('probeRefused', write));
    if (read) parts.push(read.ok ? t('probeRead', read) : t('probeReadFailed', read));
    return parts.join(' ');
  }

  // ------------------------------------------------------------------------------------------ render

  render() {
    if (!this.active) return;
    this.messages.setCluster(this.clusterForView(), this.state.slow, REPORT_MS);
    this.messages.render();
    this.experiments.render(this.picture());
  }
}

// One line of an election story in the page's language.
function lineText(line) {
  const params = { ...line.params };
  if (params.who) params.who = listOf(params.who);
  if (params.ms != null) params.ms = duration(params.ms);
  params.ask = t(params.pre ? 'st_askPre' : 'st_askVote');
  return t(line.key, params);
}

// The cluster panel: one card per node, the path of the page's last write, and a timeline that tells
// what happened (elections, leader changes, nodes going and coming back, the page moving).
//
// Its picture is put together from three sources, because no single node sees everything:
// GET /cluster/status from the node in use (the leader's view of every member, when there is a leader),
// each node's own GET /status (its role, term, commit and applied index), and the `cluster` events of
// the stream. The timeline records transitions, so the same change seen by two sources is told once.

import { $, h, setText } from './dom.js';
import { clock, duration, t } from './i18n.js';
import { learnerProgress, membershipChanges } from './membership.js';
import { firstQuorum, lacksQuorum } from './protocol.js';

const TIMELINE_MAX = 60;
const TERM_COLOURS = 8; // term chips cycle through this many colours (app.css .term-0 … .term-7)
const LAG_SCALE_MIN = 10; // a lag bar is full at this many entries, or at the largest lag if more

export class ClusterPanel {
  constructor(root, idOf) {
    this.idOf = idOf; // member URL → member id
    this.el = {
      summary: $('#cluster-summary', root),
      nodes: $('.nodes', root),
      writePath: $('#write-path', root),
      timeline: $('#timeline', root),
      caption: $('#caption', root),
    };
    // node id → {id, url, row, own, ownOk}. Keyed by id, not URL: a page opened as localhost:4000
    // and the cluster's 127.0.0.1:4000 are the same node (see Connection.idOf).
    this.members = new Map();
    this.cluster = null; // the last /cluster/status
    this.connection = { state: 'connecting', url: null };
    this.leaderId = undefined; // undefined: not known yet; null: known to be none
    this.term = 0;
    this.down = new Set();
    this.lostByPage = new Set(); // nodes the page itself could not reach; back only once it answers again
    this.elections = new Set();
    this.timeline = [];
    this.timelineShown = -1; // length and newest entry of the timeline last rendered
    this.timelineTop = null;
    this.switchLogged = false; // the current move away from a node is already in the timeline
    this.offlineLogged = false;
    this.lastWrite = null;
    // Set in demo mode (demo.js): what the demo supervisor says of a node's process (a paused node is
    // not down, whatever the polls infer), a hook that adds the fault controls to each card, and
    // whether elections are told there, from every node's reports, rather than here.
    this.processOf = () => null;
    this.decorate = () => {};
    this.electionsToldElsewhere = false;
  }

  member(url, id = this.idOf(url)) {
    let m = this.members.get(id);
    if (!m) {
      m = { id, url, row: null, own: null, ownOk: null };
      this.members.set(id, m);
    }
    return m;
  }

  // ---------------------------------------------------------------------------------- what comes in

  status(cluster, base) {
    const first = this.cluster === null;
    for (const { kind, node } of membershipChanges(this.cluster, cluster)) this.log(kind, `tl_member_${kind}`, { node });
    this.cluster = cluster;
    for (const row of cluster.nodes || []) Object.assign(this.member(row.url, row.id), { row, url: row.url });
    if (cluster.view === 'leader') {
      // The leader's view names every member: one it no longer names was removed.
      const named = new Set((cluster.nodes || []).map((row) => row.id));
      for (const id of [...this.members.keys()]) if (!named.has(id)) this.members.delete(id);
    }
    const leaderId = cluster.leader_id ?? null;
    if (first) {
      // The first picture is the starting point, not news.
      this.leaderId = leaderId;
      this.term = cluster.term;
      for (const row of cluster.nodes || []) if (!row.reachable) this.down.add(row.id);
      const node = cluster.current_node_id ?? this.idOf(base);
      this.log('start', leaderId ? 'tl_start' : 'tl_startNoLeader', { node, leader: leaderId, term: cluster.term });
      return;
    }
    this.observeLeader(leaderId, cluster.term);
    for (const row of cluster.nodes || []) this.observeReachable(row.id, row.reachable);
  }

  nodeStatus(url, own) {
    const m = this.member(url);
    m.ownOk = own !== null;
    if (own) m.own = own;
    if (own && this.lostByPage.delete(m.id)) this.observeReachable(m.id, true);
  }

  // `cluster` events from the node in use: its own role changes, and peers it can or cannot reach.
  clusterEvent(event, base) {
    if (event.type === 'hello') {
      this.member(base, event.node_id).own = event;
    } else if (event.type === 'role') {
      if (event.role === 'candidate') this.observeElection(event.node, event.term);
      if (event.role === 'leader') this.observeLeader(event.node, event.term);
      else if (event.leader) this.observeLeader(event.leader, event.term);
      const m = this.member(base, event.node);
      if (m.own) m.own = { ...m.own, role: event.role, term: event.term };
    } else if (event.type === 'peer') {
      this.observeReachable(event.node, event.reachable);
    }
  }

  connectionState(info) {
    this.connection = { state: info.state, url: info.to ?? info.from ?? this.connection.url };
    if (info.state === 'switching' && !this.switchLogged) {
      this.switchLogged = true;
      const node = this.idOf(info.from);
      this.down.add(node); // the page cannot reach it; "went down" need not be told again
      this.lostByPage.add(node); // nor "is back" from a view that has not noticed yet
      this.log('lost', 'tl_lost', { node });
    } else if (info.state === 'offline' && !this.offlineLogged) {
      this.offlineLogged = true;
      this.log('lost', 'tl_offline', {});
    } else if (info.state === 'connected' && this.switchLogged) {
      this.switchLogged = this.offlineLogged = false;
      if (info.moved) this.log('moved', 'tl_switched', { to: this.idOf(info.to), ms: duration(info.ms) });
    }
  }

  write(summary, path) {
    this.lastWrite = { summary, ...path };
  }

  readOnlyChanged(readOnly) {
    if (readOnly) this.log('readonly', readOnly.reachable != null ? 'tl_readOnly' : 'readOnlyFallback', readOnly);
    else this.log('writable', 'tl_writable', {});
  }

  // ---------------------------------------------------------------------------------- transitions

  observeLeader(leaderId, term) {
    if (term > this.term) this.term = term;
    if (leaderId === this.leaderId) return;
    if (leaderId === null) {
      if (this.leaderId) this.log('election', 'tl_leaderLost', { node: this.leaderId });
    } else if (!this.electionsToldElsewhere) {
      this.log('leader', 'tl_leader', { node: leaderId, term });
    }
    this.leaderId = leaderId;
  }

  observeElection(node, term) {
    const key = `${node}:${term}`;
    if (this.elections.has(key) || this.electionsToldElsewhere) return;
    this.elections.add(key);
    this.log('election', 'tl_election', { node, term });
  }

  observeReachable(id, reachable) {
    if (reachable && this.lostByPage.has(id)) return;
    // In demo mode the demo tells what became of a node (stopped, paused, cut off) more exactly.
    const toldElsewhere = this.processOf(id) !== null;
    if (!reachable && !this.down.has(id)) {
      this.down.add(id);
      if (!toldElsewhere) this.log('down', 'tl_down', { node: id });
    } else if (reachable && this.down.has(id)) {
      this.down.delete(id);
      if (!toldElsewhere) this.log('up', 'tl_up', { node: id });
    }
  }

  log(kind, key, params) {
    this.tell({ at: Date.now(), kind, key, params });
  }

  // An entry with its own time, which may be older than the newest (a node's report arrives a moment
  // after the fact): in order of time. An entry either has a key and params, or draws itself (render).
  tell(entry) {
    const i = this.timeline.findIndex((e) => e.at <= entry.at);
    this.timeline.splice(i < 0 ? this.timeline.length : i, 0, entry);
    this.timeline.length = Math.min(this.timeline.length, TIMELINE_MAX);
    this.retell();
  }

  // An entry changed (an election story learnt more): draw the timeline again.
  retell() {
    this.timelineShown = -1;
  }

  // What the panel knows of the cluster: the leader and term, each node's own role and term where it
  // answered its last poll, and the quorum.
  view() {
    const roles = {};
    for (const [id, m] of this.members) {
      const own = this.ownStatus(m);
      if (own) roles[id] = { role: own.role, term: own.term };
    }
    return { leader: this.leaderId ?? null, term: this.term, roles, quorum: this.quorum() };
  }

  // A member's own last status, if it still holds: it answered its last poll, or (demo mode) its
  // process runs, cut off from its peers (and so not polled) but reporting its role changes.
  ownStatus(m) {
    return m.ownOk === false && this.processOf(m.id) !== 'running' ? null : m.own;
  }

  // The quorum as the server reports it ({voters, needed, reachable}): from /cluster/status, else from
  // the node in use's own status; null while neither says.
  quorum() {
    const here = this.connection.url == null ? null : this.members.get(this.idOf(this.connection.url));
    return firstQuorum(this.cluster, here?.ownOk === false ? null : here?.own);
  }

  // -------------------------------------------------------------------------------------- render

  render({ languageChanged = false } = {}) {
    if (this.cluster) {
      const q = this.quorum();
      const leader = this.leaderId;
      const key = leader ? 'summary' : !q ? 'summaryLeaderless' : lacksQuorum(q) ? 'summaryNoQuorum' : 'summaryNoLeader';
      setText(this.el.summary, t(key, { leader, term: this.term, ...q }));
      setText(this.el.caption, t('caption', { ...q }));
    }
    this.renderNodes();
    this.renderWritePath();
    if (languageChanged || this.timelineShown !== this.timeline.length || this.timeline[0]?.at !== this.timelineTop) {
      this.renderTimeline();
    }
  }

  renderNodes() {
    const list = this.el.nodes;
    // In the cluster's own order (its config), whichever node happened to answer first.
    const order = (this.cluster?.nodes ?? []).map((row) => row.id);
    const rank = (m) => (order.includes(m.id) ? order.indexOf(m.id) : order.length);
    const members = [...this.members.values()].filter((m) => m.row || m.own).sort((a, b) => rank(a) - rank(b));
    const lags = members.map((m) => m.row?.lag ?? 0);
    const scale = Math.max(LAG_SCALE_MIN, ...lags);
    let previous = null;
    for (const m of members) {
      const card = list.querySelector(`li[data-id="${CSS.escape(m.id)}"]`) ?? nodeCard(m.id);
      const expected = previous ? previous.nextSibling : list.firstChild;
      if (card !== expected) list.insertBefore(card, expected);
      this.updateCard(card, m, scale);
      previous = card;
    }
    const shown = new Set(members.map((m) => m.id));
    for (const card of [...list.children]) if (!shown.has(card.dataset.id)) card.remove();
  }

  updateCard(card, m, scale) {
    const row = m.row ?? {};
    const own = this.ownStatus(m);
    const reachable = row.reachable !== false && m.ownOk !== false;
    const role = own?.role ?? (reachable ? row.role : 'down') ?? 'unknown';
    const process = this.processOf(m.id);
    const shownRole = process && process !== 'running' ? process : !reachable && !own ? 'down' : role;
    const here = this.connection.url != null && m.id === this.idOf(this.connection.url);
    const term = own?.term ?? (row.role === 'leader' ? this.cluster?.term : null);

    card.className = `node role-${shownRole}${here ? ' is-here' : ''}`;
    const q = (name) => $(`.${name}`, card);
    setText(q('node-name'), m.id);
    setText(q('node-url'), m.url.replace(/^https?:\/\//, ''));
    // The release the node says it runs (its own /status), else what it announced to the leader.
    const version = own?.version ?? row.version;
    q('node-version').hidden = !version;
    setText(q('node-version'), version ? `v${version}` : '');
    setText(q('role-text'), t(`role_${shownRole}`));
    setText(q('role-icon'), ROLE_ICONS[shownRole] ?? '?');
    const chip = q('term-chip');
    chip.hidden = term == null;
    if (term != null) {
      setText(chip, t('term', { term }));
      chip.className = `term-chip term-${term % TERM_COLOURS}`;
    }
    q('here-badge').hidden = !here;
    setText(q('here-badge'), t('thisPage'));
    const learner = row.membership === 'learner';
    const progress = learnerProgress(row, this.cluster?.promote_lag);
    q('member-badge').hidden = !learner;
    const badge = !progress ? 'learner' : progress.waiting ? 'learnerWaiting' : progress.ready ? 'learnerReady' : 'learnerProgress';
    setText(q('member-badge'), t(badge, progress ?? {}));
    card.classList.toggle('is-learner', learner);
    setText(q('reach'), reachable ? t('reachable') : t('unreachable'));
    q('reach').classList.toggle('is-down', !reachable);
    const contact = row.last_contact_ms;
    setText(q('contact'), contact == null ? t('contactNone') : t('contact', { ms: duration(contact) }));
    q('contact').hidden = !reachable || shownRole === 'leader'; // the leader's contact is with itself
    setText(q('stat-commit-label'), t('commit'));
    setText(q('stat-applied-label'), t('applied'));
    setText(q('stat-lag-label'), t('lag'));
    setText(q('stat-commit'), own?.commit_index ?? '—');
    setText(q('stat-applied'), own?.applied_index ?? row.applied_index ?? '—');
    const lag = reachable ? (row.lag ?? null) : null;
    setText(q('stat-lag'), lag ?? '—');
    q('stat-lag-box').title = t('lagValue', { n: lag });
    // CSSOM, not a style attribute: allowed by the page's Content-Security-Policy.
    q('lag-fill').style.width = `${lag ? Math.max(4, Math.min(100, (lag / scale) * 100)) : 0}%`;
    q('lag-bar').classList.toggle('is-behind', Boolean(lag));
    this.decorate(card, m);
  }

  renderWritePath() {
    const el = this.el.writePath;
    const w = this.lastWrite;
    el.replaceChildren();
    if (!w) {
      el.append(t('writePathNone'));
      return;
    }
    const hop = (label, node, cls) => h('span', { class: `hop ${cls}` }, h('span', { class: 'hop-label' }, label), ' ', h('strong', {}, node ?? '?'));
    const arrow = () => h('span', { class: 'hop-arrow', 'aria-hidden': 'true' }, '→');
    // The arrow travels with the hop it points to, so a narrow panel wraps the flow between hops.
    const next = (label, node) => h('span', { class: 'hop-next' }, arrow(), hop(label, node, 'hop-leader'));
    const flow = [hop(t('writeReceived'), w.receivedBy, 'hop-in')];
    if (w.forwarded) flow.push(next(t('writeForwarded'), w.leader));
    else if (w.leader && w.leader !== w.receivedBy) flow.push(next(t('writeLed'), w.leader));
    else flow.push(h('span', { class: 'hop-note' }, `(${t('role_leader').toLowerCase()})`));
    el.append(
      h('span', { class: 'write-summary' }, w.summary),
      h('span', { class: 'write-flow' }, flow),
      h('span', { class: 'write-meta' }, t('writeCommitted', { index: w.index ?? '?', ms: Math.round(w.ms) }),
        w.replayed ? ` · ${t('writeReplayed')}` : '', w.sends > 1 ? ` · ${t('writeRetries', { n: w.sends - 1 })}` : ''),
    );
  }

  renderTimeline() {
    this.timelineShown = this.timeline.length;
    this.timelineTop = this.timeline[0]?.at;
    this.el.timeline.replaceChildren(...this.timeline.map((entry) => h('li', { class: `tl tl-${entry.kind}` },
      h('time', { datetime: new Date(entry.at).toISOString() }, clock(entry.at)),
      h('span', { class: 'tl-text' }, entry.render ? entry.render() : t(entry.key, entry.params)))));
  }
}

const ROLE_ICONS = { leader: '★', follower: '●', candidate: '◐', pre_candidate: '◌', down: '✕', paused: '❚❚', restarting: '↻', unknown: '?' };

function nodeCard(id) {
  const stat = (name, ...value) => h('div', { class: `stat stat-${name}-box` }, h('dt', { class: `stat-${name}-label` }), h('dd', {}, ...value));
  return h('li', { dataset: { id, node: id } },
    h('div', { class: 'node-top' },
      h('span', { class: 'node-name' }),
      h('span', { class: 'term-chip' })),
    h('div', { class: 'node-roles' },
      h('span', { class: 'role-badge' }, h('span', { class: 'role-icon', 'aria-hidden': 'true' }), ' ', h('span', { class: 'role-text' })),
      h('span', { class: 'here-badge' }),
      h('span', { class: 'member-badge' })),
    h('div', { class: 'node-where' }, h('span', { class: 'node-url' }), h('span', { class: 'node-version' })),
    h('div', { class: 'node-meta' },
      h('span', { class: 'reach' }),
      h('span', { class: 'contact' })),
    h('dl', { class: 'node-stats' },
      stat('commit', h('span', { class: 'stat-commit' })),
      stat('applied', h('span', { class: 'stat-applied' })),
      stat('lag', h('span', { class: 'lag-bar', 'aria-hidden': 'true' }, h('span', { class: 'lag-fill' })), h('span', { class: 'stat-lag' }))));
}

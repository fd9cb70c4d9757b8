// The messages between the nodes, drawn as they flow (demo mode). Every node reports, every 200 ms,
// how many messages of each kind it sent each peer in that time (src/todonode/traffic.py); each count
// becomes one dot travelling from sender to receiver along the lane between them, coloured by kind and
// labelled with the count when there are several. A busy cluster stays readable that way: thousands of
// messages a second are still a few dots. A message dropped by a cut-off stops halfway with a cross;
// one sent into a broken stream fades before it arrives.
//
// The pause button freezes the picture to look closely: each dot says what it carries when pointed at,
// and nothing new is drawn until it is resumed. With reduced motion, dots appear midway and fade
// instead of travelling.

import { h, setText } from './dom.js';
import { clock, duration, t } from './i18n.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 640;
const HEIGHT = 340;
const NODE_R = 34;
const LANE_GAP = 8; // the two directions between a pair of nodes run side by side
const FLIGHT_MS = 650; // at normal speed; slow motion stretches it (see flightMs)
const MAX_FLIGHTS = 240;
const RATE_WINDOW_MS = 1000;
const LEGEND_EVERY_MS = 500;

// Message kinds as reported, grouped as the legend shows them.
const GROUP = {
  append: 'append',
  ack: 'ack',
  reject: 'reject',
  heartbeat: 'heartbeat',
  heartbeat_ack: 'heartbeat_ack',
  commit: 'commit',
  prevote: 'vote',
  vote: 'vote',
  prevote_granted: 'granted',
  vote_granted: 'granted',
  prevote_refused: 'refused',
  vote_refused: 'refused',
  snapshot: 'snapshot',
  timeout_now: 'timeout_now',
  read_index: 'read_index',
};
const LEGEND = ['append', 'ack', 'reject', 'heartbeat', 'heartbeat_ack', 'commit', 'vote', 'granted', 'refused', 'snapshot', 'timeout_now'];
const GLYPHS = { vote: '?', granted: '✓', refused: '✗' };
const QUIET = new Set(['heartbeat', 'heartbeat_ack']); // steady and many: their counts would only crowd the lanes
const ROLE_GLYPHS = { leader: '★', follower: '●', candidate: '◐', pre_candidate: '◌' };

const svg = (tag, attrs = {}, ...children) => {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) if (value != null) el.setAttribute(key, String(value));
  el.append(...children);
  return el;
};

export class MessagesView {
  constructor(root) {
    this.root = root;
    this.nodes = []; // [{id, process, isolated, diskDelayMs, role}], in the cluster's order
    this.positions = new Map(); // node id → {x, y}
    this.flights = [];
    this.recent = []; // [{at, group, n}] for the rates in the legend
    this.paused = false;
    this.pausedAt = 0;
    this.frozenClock = 0;
    this.slow = 1;
    this.reportMs = 200;
    this.frame = 0;
    this.reports = 0;
    this.legendShown = 0;
    this.reducedMotion = matchMedia('(prefers-reduced-motion: reduce)').matches;
    this.build();
  }

  build() {
    this.el = {
      heading: h('h2', { id: 'messages-heading' }),
      toggle: h('button', { type: 'button', class: 'btn messages-toggle', 'aria-pressed': 'false' }),
      note: h('p', { class: 'messages-note', 'aria-live': 'polite' }),
      lanes: svg('g', { class: 'msg-lanes' }),
      dots: svg('g', { class: 'msg-dots' }),
      nodes: svg('g', { class: 'msg-nodes' }),
      legend: h('ul', { class: 'messages-legend' }),
    };
    this.el.svg = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'messages-picture', role: 'img' }, this.el.lanes, this.el.dots, this.el.nodes);
    this.el.toggle.addEventListener('click', () => this.setPaused(!this.paused));
    this.root.setAttribute('aria-labelledby', 'messages-heading');
    this.root.replaceChildren(
      h('div', { class: 'messages-head' }, this.el.heading, this.el.toggle),
      this.el.svg,
      this.el.note,
      this.el.legend,
    );
  }

  // ------------------------------------------------------------------------------------ what comes in

  // The nodes, their roles and demo states; `slow`: every timing is that many times the usual.
  setCluster(nodes, slow, reportMs) {
    this.slow = slow;
    this.reportMs = reportMs;
    if (JSON.stringify(nodes) === JSON.stringify(this.nodes)) return;
    if (nodes.map((n) => n.id).join() !== this.nodes.map((n) => n.id).join()) this.layout(nodes);
    this.nodes = nodes;
    this.drawNodes();
  }

  // One node's report: what it sent whom in its last interval.
  report(report) {
    this.reports += 1;
    this.root.dataset.reports = String(this.reports); // how many came in, drawn or not (frozen)
    if (this.paused || !this.positions.has(report.node)) return;
    const rows = report.traffic.filter((row) => this.positions.has(row.to) && GROUP[row.kind]);
    const now = performance.now();
    const isolated = new Set(this.nodes.filter((n) => n.isolated).map((n) => n.id));
    rows.forEach((row, i) => {
      const group = GROUP[row.kind];
      this.recent.push({ at: now, group, n: row.n });
      // Spread over the interval the counts cover, so the flow looks as even as it was.
      const start = now + (i * this.reportMs) / rows.length;
      const fate = row.fate === 'sent' && isolated.has(row.to) ? 'dropped-there' : row.fate;
      this.launch({ from: report.node, to: row.to, kind: row.kind, group, n: row.n, entries: row.entries, fate, start });
    });
    this.schedule();
  }

  setPaused(paused) {
    if (paused === this.paused) return;
    const now = performance.now();
    if (paused) {
      this.pausedAt = now;
      this.frozenClock = Date.now();
    } else {
      for (const f of this.flights) f.start += now - this.pausedAt; // pick up where they stopped
    }
    this.paused = paused;
    this.render();
    // Pausing draws the frozen picture now, not at the next frame: what is on screen when the note
    // says "Paused" is what stays there.
    if (paused) this.tick();
    else this.schedule();
  }

  // ------------------------------------------------------------------------------------------- drawing

  layout(nodes) {
    this.positions.clear();
    const n = nodes.length;
    nodes.forEach((node, i) => {
      const angle = ((-90 - 180 / n + (i * 360) / n) * Math.PI) / 180;
      this.positions.set(node.id, { x: WIDTH / 2 + 270 * Math.cos(angle), y: HEIGHT / 2 - 10 + 140 * Math.sin(angle) });
    });
    const lanes = [];
    for (const a of nodes) for (const b of nodes) if (a.id !== b.id) lanes.push(this.lane(a.id, b.id));
    this.el.lanes.replaceChildren(...lanes.map(({ x1, y1, x2, y2 }) => svg('line', { x1, y1, x2, y2, class: 'msg-lane' })));
  }

  // The path from a's edge to b's, shifted to its own side of the pair.
  lane(a, b) {
    const p = this.positions.get(a);
    const q = this.positions.get(b);
    const dx = q.x - p.x;
    const dy = q.y - p.y;
    const len = Math.hypot(dx, dy) || 1;
    const [ux, uy] = [dx / len, dy / len];
    const [ox, oy] = [-uy * LANE_GAP, ux * LANE_GAP];
    const inset = NODE_R + 6;
    return { x1: p.x + ux * inset + ox, y1: p.y + uy * inset + oy, x2: q.x - ux * inset + ox, y2: q.y - uy * inset + oy };
  }

  drawNodes() {
    const groups = this.nodes.map((node) => {
      const { x, y } = this.positions.get(node.id);
      const state = node.process !== 'running' ? node.process : node.isolated ? 'isolated' : node.role ?? 'unknown';
      const glyph = { paused: '❚❚', down: '✕', restarting: '↻' }[node.process] ?? ROLE_GLYPHS[node.role] ?? '?';
      return svg('g', { class: `msg-node is-${state}${node.isolated ? ' is-cut' : ''}${node.diskDelayMs ? ' is-slow-disk' : ''}`, 'data-node': node.id },
        svg('circle', { cx: x, cy: y, r: NODE_R }),
        svg('text', { x, y: y + 6, class: 'msg-node-glyph' }, glyph),
        svg('text', { x, y: y + NODE_R + 17, class: 'msg-node-name' }, node.id),
        node.isolated ? svg('text', { x: x + NODE_R - 2, y: y - NODE_R + 8, class: 'msg-node-cut' }, '✂') : '');
    });
    this.el.nodes.replaceChildren(...groups);
  }

  launch(f) {
    const lane = this.lane(f.from, f.to);
    const big = f.group in GLYPHS;
    const dot = svg('g', { class: `msg-dot msg-${f.group} fate-${f.fate}`, 'data-kind': f.kind, 'data-from': f.from, 'data-to': f.to },
      svg('title', {}, flightText(f)),
      svg('circle', { r: big ? 9 : 6.5 }),
      big ? svg('text', { class: 'msg-glyph', y: 4 }, GLYPHS[f.group]) : '',
      f.n > 1 && !QUIET.has(f.group) ? svg('text', { class: 'msg-count', x: 10, y: -8 }, `×${f.n}`) : '',
      f.fate.startsWith('dropped') ? svg('text', { class: 'msg-x', y: 5 }, '✕') : '');
    dot.style.opacity = '0'; // until its start time comes
    this.el.dots.append(dot);
    this.flights.push({ ...f, lane, dot, dur: this.flightMs() });
    while (this.flights.length > MAX_FLIGHTS) this.flights.shift().dot.remove();
  }

  flightMs() {
    return FLIGHT_MS * Math.sqrt(this.slow);
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.tick());
  }

  tick() {
    this.frame = 0;
    const now = this.paused ? this.pausedAt : performance.now();
    this.flights = this.flights.filter((f) => this.move(f, now));
    if (!this.paused && performance.now() - this.legendShown > LEGEND_EVERY_MS) this.render();
    if (this.flights.length && !this.paused) this.schedule();
  }

  // Place a dot at its point of the journey; false once it has arrived (and is removed).
  move(f, now) {
    const p = (now - f.start) / f.dur;
    if (p < 0) return true;
    const { x1, y1, x2, y2 } = f.lane;
    let at = p;
    let opacity = 1;
    if (this.reducedMotion) {
      at = 0.5;
      opacity = 1 - p;
    } else if (f.fate === 'dropped' || f.fate === 'dropped-there') {
      const stop = f.fate === 'dropped' ? 0.2 : 0.8; // dropped by the sender's cut-off, or the receiver's
      at = Math.min(p, stop);
      opacity = p <= stop ? 1 : 1 - (p - stop) / (1 - stop);
      f.dot.classList.toggle('is-dropped', p > stop);
    } else if (f.fate === 'lost') {
      opacity = Math.max(0, 1 - p * 1.3);
    }
    if (p >= 1) {
      f.dot.remove();
      return false;
    }
    f.dot.setAttribute('transform', `translate(${x1 + (x2 - x1) * at} ${y1 + (y2 - y1) * at})`);
    f.dot.style.opacity = String(opacity);
    return true;
  }

  // The heading, the button, the note and the legend with each kind's rate: in the page's language.
  render() {
    this.legendShown = performance.now();
    setText(this.el.heading, t('messagesHeading'));
    setText(this.el.toggle, this.paused ? `▶ ${t('messagesPlay')}` : `❚❚ ${t('messagesPause')}`);
    this.el.toggle.setAttribute('aria-pressed', String(this.paused));
    this.root.classList.toggle('is-paused', this.paused);
    const note = this.paused ? t('messagesFrozen', { time: clock(this.frozenClock) }) : t('messagesLive', { ms: duration(this.reportMs) });
    setText(this.el.note, this.slow > 1 ? `${note} ${t('messagesSlow', { n: this.slow })}` : note);
    const cutoff = performance.now() - RATE_WINDOW_MS;
    if (!this.paused) this.recent = this.recent.filter((r) => r.at >= cutoff);
    const rates = {};
    for (const r of this.recent) rates[r.group] = (rates[r.group] ?? 0) + r.n;
    this.el.legend.setAttribute('aria-label', t('messagesLegend'));
    const items = LEGEND.map((group) => {
      const li = this.el.legend.querySelector(`[data-group="${group}"]`) ?? h('li', { class: `msg-${group}`, dataset: { group } },
        h('span', { class: 'legend-swatch', 'aria-hidden': 'true' }, GLYPHS[group] ?? ''), h('span', { class: 'legend-name' }), h('span', { class: 'legend-rate' }));
      setText(li.querySelector('.legend-name'), t(`msg_${group}`));
      setText(li.querySelector('.legend-rate'), rates[group] ? `${rates[group]}/s` : '');
      li.classList.toggle('is-quiet', !rates[group]);
      return li;
    });
    if (this.el.legend.children.length !== items.length) this.el.legend.replaceChildren(...items);
    const summary = LEGEND.filter((g) => rates[g]).map((g) => `${rates[g]} × ${t(`msg_${g}`)}`).join(', ') || t('messagesNone');
    this.el.svg.setAttribute('aria-label', t('messagesSummary', { summary }));
  }
}

function flightText(f) {
  let text = t('msgFlight', { from: f.from, to: f.to, n: f.n, kind: t(`msg_${GROUP[f.kind]}`) });
  if (f.entries) text += t('msgEntries', { entries: f.entries });
  if (f.fate === 'dropped' || f.fate === 'dropped-there') text += t('msgDropped');
  if (f.fate === 'lost') text += t('msgLost');
  return text;
}

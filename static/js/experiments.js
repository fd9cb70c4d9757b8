// Guided experiments for a class: what to do to the cluster, what to expect, and a check that it
// happened. Pure: the page hands each run a picture of the cluster (`obs`, below) as it changes, and a
// run says when a step's check has passed, with what it saw; demo.js draws them and does the actions.
// Node tests it (tests/js).
//
// obs = {
//   now,                                   // ms
//   slowDiskMs,                            // what slow-disk makes a node wait before each fsync
//   nodes: [{id, process, isolated, diskDelayMs}],   // the demo supervisor's state, in cluster order
//   roles: {id: {role, term}},             // each node's own last status, where it answered
//   leader, term,                          // the leader the page knows (null: none) and the term
//   quorum: {voters, needed, reachable} | null,
//   probes: [{at, kind: 'write' | 'read', ok, status, error, message, ms, count}],
// }
//
// A step names its targets when it starts (the leader *then*, a follower *then*), so its words and its
// check are about the same nodes however the cluster changes afterwards.

const running = (o) => o.nodes.filter((n) => n.process === 'running');
const followers = (o) => running(o).filter((n) => n.id !== o.leader && !n.isolated);
const nodeOf = (o, id) => o.nodes.find((n) => n.id === id);
const probeSince = (o, since, kind, test) => [...o.probes].reverse().find((p) => p.at >= since && p.kind === kind && test(p));
const newLeaderSince = (o, base) => (o.leader && !base.targets.includes(o.leader) && o.term > base.term ? { key: 'exd_newLeader', params: { leader: o.leader, term: o.term } } : null);
const lastFollower = (o) => {
  const ids = followers(o).map((n) => n.id);
  return ids.length ? [ids[ids.length - 1]] : [];
};

export const EXPERIMENTS = [
  {
    id: 'kill',
    steps: [
      { id: 'stop', action: 'stop', targets: (o) => (o.leader ? [o.leader] : []), check: newLeaderSince },
      {
        id: 'restart',
        action: 'restart',
        targets: (o, run) => run.bases[0].targets,
        check: (o, base) => {
          const [id] = base.targets;
          const own = o.roles[id];
          if (nodeOf(o, id)?.process !== 'running' || !own || own.term < base.term || own.role.includes('candidate')) return null;
          return { key: 'exd_back', params: { node: id, role: own.role, term: own.term } };
        },
      },
    ],
  },
  {
    id: 'pause',
    steps: [
      { id: 'pause', action: 'pause', targets: (o) => (o.leader ? [o.leader] : []), check: newLeaderSince },
      {
        id: 'resume',
        action: 'resume',
        targets: (o, run) => run.bases[0].targets,
        check: (o, base, run) => {
          const [id] = base.targets;
          const own = o.roles[id];
          // It woke up still leading the term it led; being in a later one now, it stepped down (it may
          // since have led again: the lowest port is preferred once it has caught up).
          const led = run.bases[0].term;
          if (nodeOf(o, id)?.process !== 'running' || !own || own.term <= led || own.role.includes('candidate')) return null;
          const key = own.role === 'leader' ? 'exd_steppedDownLedAgain' : 'exd_steppedDown';
          return { key, params: { node: id, leader: o.leader, term: own.term, led } };
        },
      },
    ],
  },
  {
    id: 'partition',
    steps: [
      {
        id: 'minority',
        action: 'isolate',
        probe: 'write',
        targets: lastFollower,
        check: (o, base) => {
          const write = probeSince(o, base.at, 'write', (p) => p.ok);
          if (!nodeOf(o, base.targets[0])?.isolated || !o.leader || !write) return null;
          return { key: 'exd_stillWrites', params: { leader: o.leader, ms: Math.round(write.ms) } };
        },
      },
      {
        id: 'majority',
        action: 'isolate',
        probe: 'both',
        targets: lastFollower,
        check: (o, base) => {
          const refused = probeSince(o, base.at, 'write', (p) => !p.ok && p.status >= 500);
          const read = probeSince(o, base.at, 'read', (p) => p.ok);
          if (!refused || !read || !nodeOf(o, base.targets[0])?.isolated) return null;
          return { key: 'exd_refused', params: { error: refused.error, message: refused.message, count: read.count } };
        },
      },
      {
        id: 'heal',
        action: 'heal',
        targets: (o) => o.nodes.filter((n) => n.isolated).map((n) => n.id),
        check: (o) => {
          const q = o.quorum;
          if (o.nodes.some((n) => n.isolated) || !o.leader || !q || q.reachable < q.needed) return null;
          return { key: 'exd_healed', params: { leader: o.leader, term: o.term, reachable: q.reachable, voters: q.voters } };
        },
      },
    ],
  },
  {
    id: 'disk',
    steps: [
      {
        id: 'follower',
        action: 'slow-disk',
        probe: 'write',
        targets: lastFollower,
        check: (o, base) => {
          const write = probeSince(o, base.at, 'write', (p) => p.ok && p.ms < o.slowDiskMs);
          if (!(nodeOf(o, base.targets[0])?.diskDelayMs > 0) || !write) return null;
          return { key: 'exd_fastWrite', params: { ms: Math.round(write.ms), delay: o.slowDiskMs } };
        },
      },
      {
        id: 'leader',
        action: 'slow-disk',
        probe: 'write',
        targets: (o) => (o.leader ? [o.leader] : []),
        check: (o, base) => {
          const write = probeSince(o, base.at, 'write', (p) => p.ok && p.ms >= o.slowDiskMs);
          if (!(nodeOf(o, base.targets[0])?.diskDelayMs > 0) || !write) return null;
          return { key: 'exd_slowWrite', params: { ms: Math.round(write.ms), delay: o.slowDiskMs } };
        },
      },
      {
        id: 'normal',
        action: 'normal-disk',
        targets: (o) => o.nodes.filter((n) => n.diskDelayMs > 0).map((n) => n.id),
        check: (o) => (o.nodes.every((n) => !n.diskDelayMs) ? { key: 'exd_normal', params: {} } : null),
      },
    ],
  },
];

// One experiment being followed: its current step, what each step started from, and what each check saw.
export class ExperimentRun {
  constructor(experiment, obs) {
    this.experiment = experiment;
    this.index = 0;
    this.bases = []; // per step: {at, targets, leader, term, actedAt}
    this.results = []; // per step, once passed: {key, params, at}
    this.begin(obs);
  }

  get step() {
    return this.experiment.steps[this.index] ?? null;
  }

  get done() {
    return this.index >= this.experiment.steps.length;
  }

  get base() {
    return this.bases[this.index] ?? null;
  }

  begin(obs) {
    this.bases[this.index] = { at: obs.now, targets: this.step.targets(obs, this), leader: obs.leader, term: obs.term, actedAt: null };
  }

  // The page did `action` to `node` at `at` (from this run's button or a node card's): the time the
  // step's consequences are measured from.
  acted(node, action, at) {
    const base = this.base;
    if (!this.done && action === this.step.action && base.targets.includes(node) && base.actedAt === null) base.actedAt = at;
  }

  // A new picture of the cluster. True if a step passed (the next one, if any, starts from this picture).
  observe(obs) {
    if (this.done) return false;
    if (!this.base.targets.length) {
      this.begin(obs); // no target yet (say, no leader to stop): look again
      return false;
    }
    const seen = this.step.check(obs, this.base, this);
    if (!seen) return false;
    const base = this.base;
    this.results[this.index] = { ...seen, at: obs.now, afterMs: base.actedAt === null ? null : obs.now - base.actedAt };
    this.index += 1;
    if (!this.done) this.begin(obs);
    return true;
  }
}

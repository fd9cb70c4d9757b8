// Elections told in words, from what every node reported in demo mode: its role changes (with how long
// it heard nothing from a leader, and the votes its campaign won) and each vote it gave or refused,
// with the rule that refused it. Pure: events in, stories out as {key, params} lines for i18n.js, so
// that Node can test it (tests/js).
//
// One story per election, found by the term the candidates ask for: a pre-vote round for term 5 and
// the vote that follows are one story. Reports from several nodes arrive out of order (each node
// reports every 200 ms), so each line carries the time its node stamped on it, and lines are told in
// that order.

const SEEN_MAX = 5000; // events remembered to drop repeats (a reconnected stream replays recent ones)

export class Narrator {
  constructor() {
    this.stories = new Map(); // campaign term → its stories, in order of time
    this.terms = new Map(); // node → the term of its last role event
    this.seen = new Set();
  }

  // One `cluster` event a node reported. Returns what it changed: {story, isNew} for an election,
  // {line} for something told on its own (a leader stepping down), or null.
  feed(event) {
    const id = [event.node, event.type, event.at, event.role ?? event.candidate, event.term, event.was, event.pre_vote].join('|');
    if (this.seen.has(id)) return null;
    this.seen.add(id);
    if (this.seen.size > SEEN_MAX) this.seen.delete(this.seen.values().next().value);
    if (event.type === 'vote') return this.vote(event);
    if (event.type !== 'role') return null;
    const before = this.terms.get(event.node);
    this.terms.set(event.node, event.term);
    return this.role(event, before);
  }

  role(e, termBefore) {
    const { node, role, was, term, at } = e;
    const outcome = { votes: e.votes, voters: e.voters };
    if (role === 'pre_candidate' && was !== 'pre_candidate') {
      const key = e.silent_ms == null ? 'st_preVote' : 'st_timedOut';
      return this.tell(term + 1, at, key, { node, term: term + 1, ms: e.silent_ms });
    }
    if (role === 'candidate' && was === 'pre_candidate') return this.tell(term, at, 'st_candidate', { node, term });
    if (role === 'candidate') {
      // No pre-vote first: the leader handed over with TimeoutNow.
      return this.tell(term, at, 'st_transfer', { node, term });
    }
    if (role === 'leader' && was !== 'leader') {
      const told = this.tell(term, at, 'st_won', { node, term, ...outcome });
      Object.assign(told.story, { outcome: 'won', winner: node, ...outcome });
      return told;
    }
    if (role === 'follower' && was === 'pre_candidate') {
      return this.tell(term + 1, at, 'st_preLost', { node, term: term + 1, ...outcome });
    }
    if (role === 'follower' && was === 'candidate') {
      const key = e.leader ? 'st_yielded' : 'st_lost';
      return this.tell(term, at, key, { node, term, leader: e.leader, ...outcome });
    }
    if (was === 'leader' && role !== 'leader') {
      // Why it stopped leading: it learnt of a later term (a new leader, or a candidate), or it heard
      // from no majority for an election timeout (CheckQuorum) and kept its term.
      let key = 'tl_steppedDown';
      if (e.leader) key = 'tl_steppedDownTo';
      else if (termBefore === term) key = 'tl_steppedDownQuorum';
      return { line: { at, key, params: { node, leader: e.leader, term } } };
    }
    return null;
  }

  vote(e) {
    if (!e.granted) {
      return this.tell(e.term, e.at, `st_refused_${e.reason}`, {
        voter: e.node,
        candidate: e.candidate,
        term: e.term,
        pre: e.pre_vote,
        voterTerm: e.voter_term,
        votedFor: e.voted_for,
        leader: e.leader,
        index: e.log?.[0],
        logTerm: e.log?.[1],
        candidateIndex: e.candidate_log?.[0],
        candidateLogTerm: e.candidate_log?.[1],
      });
    }
    // The grants to one candidate in one round make one line, which grows: "A and B voted for C".
    const key = e.pre_vote ? 'st_grantedPre' : 'st_granted';
    const { story, isNew } = this.storyFor(e.term, e.at);
    let line = story.lines.find((l) => l.key === key && l.params.candidate === e.candidate);
    if (!line) {
      line = { at: e.at, key, params: { candidate: e.candidate, term: e.term, who: [] } };
      story.lines.push(line);
    }
    if (!line.params.who.includes(e.node)) line.params.who.push(e.node);
    line.at = Math.min(line.at, e.at);
    sortLines(story);
    return { story, isNew };
  }

  tell(term, at, key, params) {
    const { story, isNew } = this.storyFor(term, at);
    story.lines.push({ at, key, params });
    sortLines(story);
    if (story.outcome !== 'won') {
      story.endedAt = endedAt(story);
      story.outcome = story.endedAt === null ? 'open' : 'ended';
    }
    return { story, isNew };
  }

  // The story of the election for `term` that the moment `at` belongs to: the last one begun by then,
  // unless it had already ended without a leader (a node cut off tries again and again: each attempt
  // is a story of its own, told where it happens on the timeline). Reports come in out of order, so
  // the next story may already exist, begun by a report stamped a little later.
  storyFor(term, at) {
    const stories = this.stories.get(term) ?? [];
    this.stories.set(term, stories);
    const i = stories.findLastIndex((s) => s.at <= at);
    let story = stories[i];
    if (!story || (story.endedAt !== null && story.endedAt < at)) story = stories[i + 1];
    const isNew = !story;
    if (isNew) {
      story = { term, at, lines: [], outcome: 'open', endedAt: null, winner: null, votes: null, voters: null };
      stories.splice(i + 1, 0, story);
    }
    story.at = Math.min(story.at, at);
    return { story, isNew };
  }
}

function sortLines(story) {
  story.lines.sort((a, b) => a.at - b.at);
}

const CAMPAIGNS = new Set(['st_timedOut', 'st_preVote', 'st_candidate', 'st_transfer']);
const DEFEATS = new Set(['st_preLost', 'st_lost', 'st_yielded']);

// When the election ended without a new leader: the time the last of the nodes that campaigned in it
// gave up; null while one still campaigns.
function endedAt(story) {
  const campaigning = new Map(); // node → still campaigning
  let last = null;
  for (const { at, key, params } of story.lines) {
    if (CAMPAIGNS.has(key)) campaigning.set(params.node, true);
    if (DEFEATS.has(key)) {
      campaigning.set(params.node, false);
      last = at;
    }
  }
  return campaigning.size > 0 && ![...campaigning.values()].some(Boolean) ? last : null;
}

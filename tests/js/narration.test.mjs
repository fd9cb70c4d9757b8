// static/js/narration.js: each election told from what the nodes reported, in the order it happened.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Narrator } from '../../static/js/narration.js';

const role = (node, was, role, term, at, extra = {}) => ({ type: 'role', node, was, role, term, at, leader: null, votes: 1, voters: 4, ...extra });
const vote = (node, candidate, term, at, granted, reason = 'granted', extra = {}) => ({
  type: 'vote', node, candidate, term, at, granted, reason, pre_vote: false, voter_term: term, voted_for: null, leader: null, log: [7, 2], candidate_log: [6, 2], ...extra,
});
const keys = (story) => story.lines.map((l) => l.key);

// The election after node4000, leader of term 2, was stopped: node4002 times out first.
function killTheLeader() {
  const n = new Narrator();
  const events = [
    role('node4002', 'follower', 'pre_candidate', 2, 1000, { silent_ms: 640 }),
    vote('node4001', 'node4002', 3, 1003, true, 'granted', { pre_vote: true }),
    vote('node4003', 'node4002', 3, 1004, true, 'granted', { pre_vote: true }),
    role('node4002', 'pre_candidate', 'candidate', 3, 1006),
    vote('node4003', 'node4002', 3, 1009, false, 'already_voted', { voted_for: 'node4001' }),
    vote('node4001', 'node4002', 3, 1008, true),
    role('node4002', 'candidate', 'leader', 3, 1010, { leader: 'node4002', votes: 2, voters: 4 }),
  ];
  return { n, results: events.map((e) => n.feed(e)) };
}

test('an election is one story from the timeout to the winner, in the order it happened', () => {
  const { n, results } = killTheLeader();
  assert.equal(results[0].isNew, true);
  assert.ok(results.slice(1).every((r) => r.isNew === false && r.story === results[0].story));
  const [story] = n.stories.get(3);
  assert.deepEqual(keys(story), ['st_timedOut', 'st_grantedPre', 'st_candidate', 'st_granted', 'st_refused_already_voted', 'st_won']);
  assert.deepEqual(story.lines[0].params, { node: 'node4002', term: 3, ms: 640 });
  assert.deepEqual(story.lines[1].params.who, ['node4001', 'node4003'], 'the grants of a round make one line');
  assert.equal(story.lines[4].params.votedFor, 'node4001');
  assert.deepEqual([story.outcome, story.winner, story.votes, story.voters], ['won', 'node4002', 2, 4]);
});

test('each refusal keeps what its reason needs to be told', () => {
  const n = new Narrator();
  const { story } = n.feed(vote('node4001', 'node4003', 5, 1, false, 'log_behind', { pre_vote: true }));
  assert.deepEqual(story.lines[0], {
    at: 1,
    key: 'st_refused_log_behind',
    params: {
      voter: 'node4001', candidate: 'node4003', term: 5, pre: true, voterTerm: 5, votedFor: null, leader: null,
      index: 7, logTerm: 2, candidateIndex: 6, candidateLogTerm: 2,
    },
  });
  n.feed(vote('node4002', 'node4003', 5, 2, false, 'leader_lease', { leader: 'node4000' }));
  assert.equal(story.lines[1].key, 'st_refused_leader_lease');
  assert.equal(story.lines[1].params.leader, 'node4000');
});

test('a lost pre-vote and a hand-over are told as such', () => {
  const n = new Narrator();
  n.feed(role('node4003', 'follower', 'pre_candidate', 4, 1, { silent_ms: 900 }));
  n.feed(role('node4003', 'pre_candidate', 'follower', 4, 2, { votes: 1 }));
  assert.deepEqual(keys(n.stories.get(5)[0]), ['st_timedOut', 'st_preLost']);
  n.feed(role('node4000', 'follower', 'candidate', 6, 3));
  assert.deepEqual(keys(n.stories.get(6)[0]), ['st_transfer']);
});

test('a leader stepping down says why: a newer leader, a newer term, or no majority', () => {
  const n = new Narrator();
  n.feed(role('node4000', 'candidate', 'leader', 2, 1, { leader: 'node4000' }));
  const quorum = n.feed(role('node4000', 'leader', 'follower', 2, 2));
  assert.equal(quorum.line.key, 'tl_steppedDownQuorum', 'same term, no leader: CheckQuorum');
  n.feed(role('node4000', 'follower', 'pre_candidate', 2, 3));
  n.feed(role('node4000', 'pre_candidate', 'candidate', 3, 4));
  n.feed(role('node4000', 'candidate', 'leader', 3, 5, { leader: 'node4000' }));
  const newer = n.feed(role('node4000', 'leader', 'follower', 5, 6, { leader: 'node4001' }));
  assert.deepEqual(newer.line, { at: 6, key: 'tl_steppedDownTo', params: { node: 'node4000', leader: 'node4001', term: 5 } });
  n.feed(role('node4000', 'follower', 'leader', 5, 7, { leader: 'node4000' }));
  assert.equal(n.feed(role('node4000', 'leader', 'follower', 6, 8)).line.key, 'tl_steppedDown');
});

test('an event seen twice (a stream replayed after a reconnect) is told once', () => {
  const n = new Narrator();
  const e = role('node4002', 'follower', 'pre_candidate', 2, 1000, { silent_ms: 640 });
  assert.ok(n.feed(e));
  assert.equal(n.feed({ ...e }), null);
  assert.equal(n.stories.get(3)[0].lines.length, 1);
  // A pre-vote and a vote stamped in the same millisecond are two events.
  assert.ok(n.feed(vote('node4001', 'node4002', 3, 1005, true, 'granted', { pre_vote: true })));
  assert.ok(n.feed(vote('node4001', 'node4002', 3, 1005, true)));
  assert.deepEqual(keys(n.stories.get(3)[0]), ['st_timedOut', 'st_grantedPre', 'st_granted']);
});

test('peer events and plain leader changes tell nothing', () => {
  const n = new Narrator();
  assert.equal(n.feed({ type: 'peer', node: 'node4000', reachable: false }), null);
  assert.equal(n.feed(role('node4001', 'follower', 'follower', 3, 1, { leader: 'node4002' })), null);
});

test('a story whose every campaigner gave up ends without a new leader', () => {
  const n = new Narrator();
  const { story } = n.feed(role('node4003', 'follower', 'pre_candidate', 4, 1, { silent_ms: 900 }));
  n.feed(role('node4001', 'follower', 'pre_candidate', 4, 2, { silent_ms: 700 }));
  assert.equal(story.outcome, 'open');
  n.feed(role('node4003', 'pre_candidate', 'follower', 4, 3, { votes: 1 }));
  assert.equal(story.outcome, 'open', 'node4001 is still campaigning');
  n.feed(role('node4001', 'pre_candidate', 'follower', 4, 4, { votes: 2 }));
  assert.equal(story.outcome, 'ended');
  n.feed(vote('node4002', 'node4001', 5, 3.5, false, 'leader_lease', { pre_vote: true })); // reported late
  assert.equal(story.lines.length, 5, 'a late refusal still belongs to it');
});

test('a node that tries again after its election ended starts a new story', () => {
  const n = new Narrator();
  const first = n.feed(role('node4003', 'follower', 'pre_candidate', 4, 1, { silent_ms: 900 })).story;
  n.feed(role('node4003', 'pre_candidate', 'follower', 4, 2, { votes: 1 }));
  const again = n.feed(role('node4003', 'follower', 'pre_candidate', 4, 50, { silent_ms: 2000 }));
  assert.equal(again.isNew, true);
  assert.notEqual(again.story, first);
  assert.deepEqual(keys(first), ['st_timedOut', 'st_preLost']);
  assert.deepEqual(keys(again.story), ['st_timedOut']);
});

test('votes reported before the campaign they answer join its story, not the one that ended', () => {
  const n = new Narrator();
  const first = n.feed(role('node4003', 'follower', 'pre_candidate', 4, 100, { silent_ms: 900 })).story;
  n.feed(role('node4003', 'pre_candidate', 'follower', 4, 200, { votes: 1 }));
  // The voters' reports of the second attempt come in before the candidate's own.
  const granted = n.feed(vote('node4001', 'node4003', 5, 320, true, 'granted', { pre_vote: true }));
  assert.equal(granted.isNew, true);
  const again = n.feed(role('node4003', 'follower', 'pre_candidate', 4, 300, { silent_ms: 1100 }));
  assert.equal(again.isNew, false);
  assert.equal(again.story, granted.story);
  assert.deepEqual(keys(again.story), ['st_timedOut', 'st_grantedPre']);
  assert.equal(again.story.at, 300);
  // A late line of the first attempt still goes to the first story.
  n.feed(vote('node4002', 'node4003', 5, 150, false, 'leader_lease', { pre_vote: true, leader: 'node4000' }));
  assert.deepEqual(keys(first), ['st_timedOut', 'st_refused_leader_lease', 'st_preLost']);
  assert.deepEqual(n.stories.get(5), [first, again.story]);
});

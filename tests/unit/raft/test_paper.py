"""One test per rule of the Raft paper (§ numbers) and Ongaro's thesis, after etcd's raft_paper_test.go.

Each docstring quotes or paraphrases the sentence the test protects. Single-node tests step one core
by hand; cluster tests use the in-memory ``Network`` of harness.py.
"""

from __future__ import annotations

import pytest

from todonode.raft import (
    NO_LEADER,
    TRANSFERRING,
    Accepted,
    AppendEntries,
    AppendResponse,
    ClusterConfig,
    Entry,
    EntryKind,
    HardState,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    RaftNode,
    ReadIndexRequest,
    ReadState,
    Refused,
    Role,
    Snapshot,
    SnapshotMeta,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)

from .harness import IDS, Network, log_of, new_node, outbox, take

ELECTION = 10  # RaftOptions.election_ticks

# With the default 10-tick election timeout: replication that made no progress for half of it is
# restarted (core._restart_stalled_replication).
STALL_TICKS = 5


def campaign_after(node: RaftNode) -> int:
    """Tick a lone node until it starts campaigning; return how many ticks that took."""
    ticks = 0
    while node.status().role is Role.FOLLOWER:
        node.tick()
        ticks += 1
    return ticks


def snapshot_at(index: int, term: int = 1) -> Snapshot:
    return Snapshot(SnapshotMeta(index=index, term=term, config=ClusterConfig(IDS)), data=b"state")


def append(term: int, prev: tuple[int, int], *entries: Entry, commit: int = 0) -> AppendEntries:
    """An AppendEntries from n2 (the leader) to n1."""
    return AppendEntries(
        term=term, src="n2", dst="n1", prev_index=prev[0], prev_term=prev[1], entries=entries, commit=commit
    )


def vote_request(term: int, last: tuple[int, int], *, src: str = "n2", pre_vote: bool = False) -> VoteRequest:
    return VoteRequest(
        term=term, src=src, dst="n1", last_log_index=last[0], last_log_term=last[1], pre_vote=pre_vote
    )


# ======================================================================== §5.1 terms, §5.2 elections


def test_start_as_follower():
    """§5.2: "When servers start up, they begin as followers." """
    st = new_node().status()
    assert (st.role, st.term, st.leader) == (Role.FOLLOWER, 0, None)


def test_follower_update_term_from_message():
    """§5.1: "If one server's current term is smaller than the other's, then it updates its current
    term to the larger value." """
    node = new_node(hard_state=HardState(term=1))
    node.step(Heartbeat(term=3, src="n2", dst="n1"))
    st = node.status()
    assert (st.role, st.term, st.leader) == (Role.FOLLOWER, 3, "n2")


def test_reject_request_with_stale_term():
    """§5.1: "If a server receives a request with a stale term number, it rejects the request" —
    and its reply tells the stale sender the newer term."""
    node = new_node(hard_state=HardState(term=3), log=log_of(1))
    node.step(append(2, (1, 1), Entry(2, 2)))
    assert outbox(node) == [AppendResponse(term=3, src="n1", dst="n2", success=False)]
    assert node.status().last_index == 1


@pytest.mark.parametrize(
    "reply",
    [
        AppendResponse(term=9, src="n2", dst="n1", success=True, match_index=1),
        HeartbeatResponse(term=9, src="n2", dst="n1"),
    ],
    ids=["append_response", "heartbeat_response"],
)
def test_leader_steps_down_on_higher_term_in_response(reply):
    """§5.1: "If a candidate or leader discovers that its term is out of date, it immediately reverts
    to follower state." """
    leader = Network().elect("n1")
    leader.step(reply)
    st = leader.status()
    assert (st.role, st.term, st.leader) == (Role.FOLLOWER, 9, None)


def test_candidate_steps_down_on_higher_term_in_vote_response():
    """§5.1: a candidate that learns of a later term from a vote reply reverts to follower."""
    node = new_node(pre_vote=False)
    campaign_after(node)
    node.step(VoteResponse(term=4, src="n2", dst="n1", granted=False))
    st = node.status()
    assert (st.role, st.term) == (Role.FOLLOWER, 4)


def test_follower_starts_pre_vote_after_election_timeout():
    """§5.2: "If a follower receives no communication over a period of time called the election
    timeout, then it ... begins an election." Thesis §9.6: it first asks for pre-votes for term+1,
    leaving its own term untouched."""
    node = new_node(log=log_of(1, 1), hard_state=HardState(term=1))
    assert ELECTION <= campaign_after(node) < 2 * ELECTION
    rd = take(node)
    assert (node.status().role, node.status().term, rd.hard_state) == (Role.PRE_CANDIDATE, 1, None)
    assert sorted(rd.messages, key=lambda m: m.dst) == [
        VoteRequest(term=2, src="n1", dst=d, last_log_index=2, last_log_term=1, pre_vote=True)
        for d in ("n2", "n3")
    ]


def test_pre_candidate_keeps_its_term_until_pre_votes_win():
    """Thesis §9.6: "the candidate would first ask other servers whether its log was up-to-date enough
    to get their vote. Only if ... a majority ... would it increment its term and start a normal
    election." """
    node = new_node(voters=("n1", "n2", "n3", "n4", "n5"))
    campaign_after(node)
    node.step(VoteResponse(term=1, src="n2", dst="n1", granted=True, pre_vote=True))
    assert (node.status().role, node.status().term) == (Role.PRE_CANDIDATE, 0)
    node.step(VoteResponse(term=1, src="n3", dst="n1", granted=True, pre_vote=True))
    assert (node.status().role, node.status().term) == (Role.CANDIDATE, 1)


def test_candidate_persists_term_and_self_vote_in_the_ready_with_its_vote_requests():
    """§5.2: "a follower increments its current term ... votes for itself and issues RequestVote RPCs";
    Figure 2: currentTerm and votedFor are updated on stable storage before responding to RPCs, so they
    ride in the same Ready as the requests (persisted before they are sent)."""
    node = new_node()
    campaign_after(node)
    take(node)  # the pre-votes
    node.step(VoteResponse(term=1, src="n2", dst="n1", granted=True, pre_vote=True))
    rd = take(node)
    assert rd.hard_state == HardState(term=1, vote="n1", commit=0)
    assert {(type(m), m.dst, m.term, m.pre_vote) for m in rd.messages} == {
        (VoteRequest, "n2", 1, False),
        (VoteRequest, "n3", 1, False),
    }


def test_leader_election_in_one_round_appends_a_noop_of_its_term():
    """§5.2: "A candidate wins an election if it receives votes from a majority of the servers";
    §8 / §5.4.2: a new leader commits a blank no-op entry of its own term at the start of its term."""
    net = Network()
    leader = net.elect("n1")
    assert (leader.status().term, leader.status().leader) == (1, "n1")
    noop = Entry(term=1, index=1, kind=EntryKind.NOOP)
    assert net.committed["n1"] == [noop]
    net.tick("n1")  # the next heartbeat carries the commit index to a follower that acked late
    assert all(net.committed[n] == [noop] for n in IDS)


def test_follower_vote():
    """§5.2: "Each server will vote for at most one candidate in a given term, on a first-come-first-
    served basis." A retry from the candidate it voted for is granted again."""
    node = new_node()
    for src in ("n2", "n3", "n2"):
        node.step(vote_request(1, (0, 0), src=src))
    assert [(m.dst, m.granted) for m in outbox(node)] == [("n2", True), ("n3", False), ("n2", True)]


def test_vote_is_persisted_in_the_ready_with_the_grant():
    """Figure 2: votedFor is on stable storage before the vote leaves the node
    (docs/guarantees.md#a-vote-forgotten-in-a-crash)."""
    node = new_node()
    node.step(vote_request(1, (0, 0)))
    rd = take(node)
    assert rd.hard_state == HardState(term=1, vote="n2", commit=0)
    assert rd.messages == (VoteResponse(term=1, src="n1", dst="n2", granted=True),)


def test_restarted_voter_remembers_its_vote():
    """§5.2 with Figure 2's persistent state: a node restarted from its hard state does not vote twice
    in the same term."""
    node = new_node(hard_state=HardState(term=1, vote="n2"))
    node.step(vote_request(1, (0, 0), src="n3"))
    assert [m.granted for m in outbox(node)] == [False]


@pytest.mark.parametrize("pre_vote", [False, True])
def test_voter_rejects_candidate_with_older_last_term(pre_vote):
    """§5.4.1: "If the logs have last entries with different terms, then the log with the later term is
    more up-to-date" — however long the other log is."""
    node = new_node(log=log_of(1, 2), hard_state=HardState(term=2))
    node.step(vote_request(3, (5, 1), pre_vote=pre_vote))
    assert [m.granted for m in outbox(node)] == [False]


@pytest.mark.parametrize("pre_vote", [False, True])
def test_voter_rejects_candidate_with_shorter_log_in_same_last_term(pre_vote):
    """§5.4.1: "If the logs end with the same term, then whichever log is longer is more up-to-date." """
    node = new_node(log=log_of(1, 1, 1), hard_state=HardState(term=1))
    node.step(vote_request(2, (2, 1), pre_vote=pre_vote))
    assert [m.granted for m in outbox(node)] == [False]


@pytest.mark.parametrize("last", [(1, 2), (3, 1), (4, 1)], ids=["later_term", "same_log", "longer_log"])
def test_voter_grants_candidate_whose_log_is_at_least_as_up_to_date(last):
    """§5.4.1: "the voter denies its vote if its own log is more up-to-date than that of the candidate"
    — and only then."""
    node = new_node(log=log_of(1, 1, 1), hard_state=HardState(term=1))
    node.step(vote_request(2, last))
    assert [m.granted for m in outbox(node)] == [True]


def test_candidate_falls_back_on_append_from_leader_of_its_term():
    """§5.2: "If the leader's term ... is at least as large as the candidate's current term, then the
    candidate recognizes the leader as legitimate and returns to follower state." """
    node = new_node(pre_vote=False)
    campaign_after(node)
    node.step(append(1, (0, 0)))
    st = node.status()
    assert (st.role, st.term, st.leader) == (Role.FOLLOWER, 1, "n2")


def test_candidate_gives_up_when_a_majority_rejects():
    """§5.2: a candidate that cannot win (a majority refused) returns to follower and waits."""
    node = new_node(pre_vote=False)
    campaign_after(node)
    node.step(VoteResponse(term=1, src="n2", dst="n1", granted=False))
    node.step(VoteResponse(term=1, src="n3", dst="n1", granted=False))
    assert (node.status().role, node.status().term) == (Role.FOLLOWER, 1)


def test_follower_election_timeout_randomized():
    """§5.2: "Raft uses randomized election timeouts ... chosen randomly from a fixed interval" so that
    nodes rarely time out together."""
    net = Network(5)
    timeouts = [campaign_after(net[n]) for n in net.ids]
    assert all(ELECTION <= t < 2 * ELECTION for t in timeouts)
    assert len(set(timeouts)) > 1


def test_leader_bcast_beat():
    """§5.2: "Leaders send periodic heartbeats (AppendEntries RPCs that carry no log entries) to all
    followers" — one round per heartbeat interval."""
    leader = Network(heartbeat_ticks=2).elect("n1")
    leader.tick()
    assert not [m for m in outbox(leader) if isinstance(m, Heartbeat)]
    leader.tick()
    beats = [m for m in outbox(leader) if isinstance(m, Heartbeat)]
    assert sorted((m.dst, m.term) for m in beats) == [("n2", 1), ("n3", 1)]


# =================================================================================== §5.3 replication


def test_leader_start_replication():
    """§5.3: "The leader appends the command to its log as a new entry, then issues AppendEntries RPCs in
    parallel to each of the other servers" — in the Ready that persists the entry."""
    net = Network()
    leader = net.elect("n1")
    assert leader.propose(b"x") == Accepted(index=2, term=1)
    rd = take(leader)
    assert rd.entries == (Entry(1, 2, b"x"),)
    assert sorted(rd.messages, key=lambda m: m.dst) == [
        AppendEntries(term=1, src="n1", dst=d, prev_index=1, prev_term=1, entries=rd.entries, commit=1)
        for d in ("n2", "n3")
    ]


def test_leader_commits_an_entry_stored_on_a_majority():
    """§5.3: "A log entry is committed once the leader that created the entry has replicated it on a
    majority of the servers" — and not before."""
    net = Network()
    leader = net.elect("n1")
    net.isolate("n3")
    leader.propose(b"a")
    net.deliver_all()
    assert leader.status().commit == 2
    assert [e.data for e in net.committed["n2"]] == [b"", b"a"]
    net.isolate("n2")
    leader.propose(b"b")
    net.deliver_all()
    assert leader.status().commit == 2


def test_leader_does_not_resend_an_append_still_in_flight():
    """§5.3: "the leader retries AppendEntries RPCs indefinitely" when they go unanswered; progress.py:
    in REPLICATE it streams entries and re-probes only after a whole heartbeat interval without
    progress. An append sent together with a heartbeat has not been in flight for an interval."""
    net = Network()
    leader = net.elect("n1")
    net.tick("n1", times=2)
    start = len(net.sent)
    leader.propose(b"x")
    net.tick("n1")
    copies = [m.dst for m in net.sent[start:] if isinstance(m, AppendEntries) and m.entries]
    assert sorted(copies) == ["n2", "n3"]


def test_follower_rejects_append_whose_prev_does_not_match():
    """§5.3: "If the follower does not find an entry in its log with the same index and term, then it
    refuses the new entries"; thesis §5.3: the reply names the conflicting term and the first index
    the follower holds of it, so the leader can skip that whole term."""
    node = new_node(hard_state=HardState(term=3), log=log_of(1, 2, 2, 2))
    node.step(append(3, (4, 3), Entry(3, 5)))
    [reply] = outbox(node)
    assert (reply.success, reply.reject_index, reply.conflict_term, reply.conflict_index) == (False, 4, 2, 2)
    assert node.status().last_index == 4


def test_follower_with_short_log_hints_its_last_index_plus_one():
    """Thesis §5.3 (fast back-off): a follower missing the entry at prev_index hints last index + 1."""
    node = new_node(hard_state=HardState(term=3), log=log_of(1, 2, 2, 2))
    node.step(append(3, (7, 3)))
    [reply] = outbox(node)
    assert (reply.success, reply.reject_index, reply.conflict_term, reply.conflict_index) == (False, 7, 0, 5)


def test_leader_skips_a_whole_conflicting_term_per_rejection():
    """§5.3: "the leader can decrement nextIndex to bypass all of the conflicting entries in that term;
    one AppendEntries RPC will be required for each term with conflicting entries" — after which the
    follower's log equals the leader's (Figure 7)."""
    net = Network(
        logs={"n1": log_of(1, 3, 3, 3, 3, 3), "n2": log_of(1, 2, 2, 2, 2, 2, 2, 2), "n3": log_of(1, 3, 3)},
        hard_states={"n1": HardState(term=3), "n2": HardState(term=2), "n3": HardState(term=3)},
    )
    net.elect("n1")
    probes = {m.prev_index for m in net.sent if isinstance(m, AppendEntries) and m.dst == "n2"}
    assert probes == {6, 1}  # from the leader's last entry straight past n2's whole term 2
    assert net.stored["n2"] == net.stored["n1"] == net.stored["n3"]


def test_follower_truncates_conflicting_suffix_and_appends():
    """§5.3: "If an existing entry conflicts with a new one (same index but different terms), delete the
    existing entry and all that follow it"; the replacements are in the Ready with the ack."""
    node = new_node(hard_state=HardState(term=3), log=log_of(1, 1, 2))
    node.step(append(3, (2, 1), Entry(3, 3), Entry(3, 4)))
    rd = take(node)
    assert rd.entries == (Entry(3, 3), Entry(3, 4))
    assert rd.messages == (AppendResponse(term=3, src="n1", dst="n2", success=True, match_index=4),)


def test_follower_keeps_entries_a_stale_append_already_holds():
    """§5.3: only a conflicting entry is deleted; an old, reordered AppendEntries whose entries the
    follower already holds must not drop the entries after them."""
    node = new_node(hard_state=HardState(term=1), log=log_of(1, 1, 1))
    node.step(append(1, (1, 1), Entry(1, 2)))
    rd = take(node)
    assert (rd.entries, node.status().last_index) == ((), 3)
    assert rd.messages == (AppendResponse(term=1, src="n1", dst="n2", success=True, match_index=2),)


def test_follower_commit_is_min_of_leader_commit_and_last_new_entry():
    """Figure 2: "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new
    entry)" — never past what this message proved the follower shares with the leader."""
    node = new_node(hard_state=HardState(term=3), log=log_of(1, 2, 2))  # 2..3 from a deposed leader
    node.step(append(3, (1, 1), commit=3))
    assert node.status().commit == 1
    node.step(append(3, (1, 1), Entry(1, 2), Entry(3, 3), commit=2))
    assert node.status().commit == 2
    node.step(append(3, (3, 3), commit=3))
    assert node.status().commit == 3


def test_commit_is_told_at_once_in_a_notice_that_is_not_answered():
    """Not in the paper: a follower learns the commit index from the next append or heartbeat. Here the
    leader tells it as soon as it commits, in a round-0 heartbeat; answering those would double the
    messages every write costs, so followers answer only real heartbeat rounds."""
    net = Network()
    leader = net.elect("n1")
    leader.propose(b"a")
    appends = outbox(leader)
    for follower in ("n2", "n3"):
        net.nodes[follower].step(next(m for m in appends if m.dst == follower))
        leader.step(next(m for m in outbox(net.nodes[follower]) if isinstance(m, AppendResponse)))
    assert leader.status().commit == 2
    notices = outbox(leader)
    assert sorted((m.dst, m.commit, m.round) for m in notices) == [("n2", 2, 0), ("n3", 2, 0)]
    assert all(isinstance(m, Heartbeat) and m.is_commit_notice for m in notices)
    follower = net.nodes["n2"]
    follower.step(notices[0] if notices[0].dst == "n2" else notices[1])
    assert follower.status().commit == 2
    assert outbox(follower) == []
    follower.step(Heartbeat(term=1, src="n1", dst="n2", commit=2, round=7))
    assert outbox(follower) == [HeartbeatResponse(term=1, src="n2", dst="n1", round=7)]


def test_leader_only_commits_log_from_current_term():
    """§5.4.2 (Figure 8): "Raft never commits log entries from previous terms by counting replicas.
    Only log entries from the leader's current term are committed by counting replicas." """
    three = dict.fromkeys(IDS, HardState(term=2, commit=1))
    net = Network(
        logs={"n1": log_of(1, 2), "n2": log_of(1), "n3": log_of(1)},
        hard_states=three,
        max_entries_per_append=1,
    )
    # Lose the no-op on its way to any follower that already holds the term-2 entry.
    net.drop(lambda m: isinstance(m, AppendEntries) and m.prev_index == 2 and 2 in net.stored[m.dst])
    leader = net.elect("n1")
    assert all(net.stored[n][2] == Entry(2, 2) for n in IDS)  # the term-2 entry is on every node ...
    assert leader.status().commit == 1  # ... and still not committed
    net.heal()
    net.tick("n1", times=STALL_TICKS)  # no progress for half an election timeout: the no-op is resent
    assert leader.status().commit == 3
    assert [e.index for e in net.committed["n1"]] == [1, 2, 3]


# ================================================================================ §6.2 CheckQuorum


def test_leader_steps_down_when_it_cannot_reach_a_majority():
    """Thesis §6.2: "a leader steps down if an election timeout elapses without a successful round of
    heartbeats to a majority of its cluster." """
    net = Network()
    leader = net.elect("n1")
    net.isolate("n1")
    net.tick("n1", times=ELECTION)  # it heard from both followers during this timeout
    assert leader.status().role is Role.LEADER
    net.tick("n1", times=ELECTION)  # and from nobody during this one
    assert leader.status().role is Role.FOLLOWER


def test_leader_with_a_majority_keeps_leading():
    """Thesis §6.2: one unreachable follower does not unseat a leader that still reaches a majority."""
    net = Network()
    net.elect("n1")
    net.isolate("n3")
    net.tick(times=5 * ELECTION)
    st = net["n1"].status()
    assert (st.role, st.term) == (Role.LEADER, 1)


# ======================================================================================= §9.6 PreVote


def test_follower_in_leader_lease_rejects_pre_votes():
    """Thesis §9.6 / §4.2.3: a server that heard from a current leader within the minimum election
    timeout does not grant (pre-)votes, so a node that merely lost touch cannot depose the leader."""
    net = Network()
    net.elect("n1")
    net.drop(lambda m: {m.src, m.dst} == {"n1", "n3"})  # n3 loses the leader; n2 still hears it
    net.campaign("n3")
    assert not [m for m in net.sent if isinstance(m, VoteResponse) and m.dst == "n3" and m.granted]
    assert (net["n2"].status().term, net["n2"].status().leader) == (1, "n1")
    assert net["n3"].status().term == 1


def test_rejoining_partitioned_node_does_not_bump_the_term():
    """Thesis §9.6: with PreVote, a server partitioned away keeps timing out without raising its term,
    so when it rejoins it does not force the healthy leader to step down."""
    net = Network()
    net.elect("n1")
    net.isolate("n3")
    net.tick(times=10 * ELECTION)
    assert net["n3"].status().term == 1
    net.heal()
    net.tick(times=2)
    assert {(n.status().term, n.status().leader) for n in net.nodes.values()} == {(1, "n1")}


def test_without_pre_vote_a_rejoining_node_deposes_the_leader():
    """Thesis §9.6, the problem PreVote solves: a rejoining node with an inflated term makes the leader
    step down (this is why PreVote is on by default)."""
    net = Network(pre_vote=False)
    net.elect("n1")
    net.isolate("n3")
    net.tick(times=10 * ELECTION)
    net.heal()
    net.tick(times=2)
    assert net["n1"].status().term > 1


# ==================================================================================== §6.4 ReadIndex


def test_read_index_waits_for_a_heartbeat_round_acked_by_a_majority():
    """Thesis §6.4: "the leader ... sends out a new round of heartbeats and waits for their
    acknowledgments from a majority of the cluster" before it serves the read."""
    net = Network()
    leader = net.elect("n1")
    net.isolate("n2")
    net.isolate("n3")
    assert leader.read_index("r1") is None
    net.tick("n1", times=3)
    assert net.read_states["n1"] == []
    net.heal()
    net.isolate("n3")  # one follower is enough for a majority
    net.tick("n1")
    assert net.read_states["n1"] == [ReadState("r1", 1)]


def test_read_index_waits_until_leader_committed_an_entry_of_its_term():
    """Thesis §6.4: "If the leader has not yet marked an entry from its current term committed, it waits
    until it has done so" — its commit index may be stale until then."""
    net = Network()
    net.drop(lambda m: isinstance(m, AppendEntries))
    leader = net.elect("n1")
    leader.read_index("r1")
    net.tick("n1", times=3)  # heartbeats are acked, but the no-op never reaches anyone
    assert (leader.status().commit, net.read_states["n1"]) == (0, [])
    net.heal()
    net.tick("n1")
    assert net.read_states["n1"] == [ReadState("r1", 1)]


def test_follower_read_index_is_forwarded_to_the_leader():
    """Thesis §6.4: "a follower ... could issue a request to the leader that just asks for the current
    readIndex"; the leader confirms its leadership as for its own reads."""
    net = Network()
    net.elect("n1")
    assert net["n2"].read_index("f1") is None
    net.deliver_all()
    assert [(m.src, m.dst) for m in net.sent if isinstance(m, ReadIndexRequest)] == [("n2", "n1")]
    assert net.read_states["n2"] == [ReadState("f1", 1)]


def test_read_index_without_a_known_leader_is_refused():
    """Thesis §6.4: a follower can only ask a leader it knows of."""
    assert new_node().read_index("r1") == Refused(NO_LEADER)


# ========================================================================== §3.10 leadership transfer


def test_leader_refuses_proposals_while_transferring():
    """Thesis §3.10: "the prior leader stops accepting new client requests" while it hands over."""
    net = Network()
    leader = net.elect("n1")
    leader.transfer_leadership("n2")
    assert leader.propose(b"x") == Refused(TRANSFERRING, "n1")


def test_timeout_now_is_sent_only_once_the_target_is_caught_up():
    """Thesis §3.10: "The prior leader sends its log entries to the target server" and only then "sends
    a TimeoutNow request"; the target, with a complete log, wins."""
    net = Network()
    leader = net.elect("n1")
    net.isolate("n2")
    for data in (b"a", b"b", b"c"):
        leader.propose(data)
    net.deliver_all()
    leader.transfer_leadership("n2")
    net.deliver_all()
    last = leader.status().last_index
    assert not [m for m in net.sent if isinstance(m, TimeoutNow)]
    net.heal()
    net.tick("n1", times=STALL_TICKS)  # the appends lost to the partition are sent again
    first = next(i for i, m in enumerate(net.sent) if isinstance(m, TimeoutNow))
    acks = [m.match_index for m in net.sent[:first] if isinstance(m, AppendResponse) and m.src == "n2"]
    assert acks[-1] == last
    assert net.leader() == "n2"


def test_transfer_target_wins_the_election():
    """Thesis §3.10: on TimeoutNow the target "starts a new election" at once; voters still hearing the
    old leader grant it anyway, because the request is marked as a transfer."""
    net = Network()
    leader = net.elect("n1")
    leader.transfer_leadership("n2")
    net.deliver_all()
    assert net.leader() == "n2"
    assert (net["n2"].status().term, leader.status().role) == (2, Role.FOLLOWER)
    net.tick("n2")
    assert net.committed["n3"][-1] == Entry(term=2, index=2, kind=EntryKind.NOOP)


def test_transfer_aborts_after_an_election_timeout_if_the_target_is_down():
    """Thesis §3.10: "If the transfer does not complete within ... an election timeout, the prior leader
    aborts the transfer and resumes accepting client requests." """
    net = Network()
    leader = net.elect("n1")
    net.isolate("n2")
    leader.transfer_leadership("n2")
    net.tick("n1", times=ELECTION - 1)
    assert leader.propose(b"x") == Refused(TRANSFERRING, "n1")
    net.tick("n1")
    assert leader.status().transferee is None
    assert isinstance(leader.propose(b"x"), Accepted)


# ===================================================================== leader preference (todonode)


def test_preferred_node_takes_over_once_it_stayed_caught_up_for_settle_ticks():
    """core.py: a leader that sees a more preferred voter (earlier in ClusterConfig.voters) alive and
    caught up for settle_ticks hands leadership to it with TimeoutNow."""
    net = Network(settle_ticks=5)
    net.elect("n2")
    net.tick(times=5)
    assert net.leader() == "n2"
    net.tick()
    assert net.leader() == "n1"
    assert [(m.src, m.dst) for m in net.sent if isinstance(m, TimeoutNow)] == [("n2", "n1")]


def test_stale_preferred_node_cannot_win_an_election():
    """§5.4.1: preference never enters elections; a preferred node whose log is behind gets no votes
    (docs/guarantees.md#a-stale-preferred-node-taking-over)."""
    hard = dict.fromkeys(IDS, HardState(term=1, commit=1))
    net = Network(logs={"n1": log_of(1), "n2": log_of(1, 1, 1), "n3": log_of(1, 1, 1)}, hard_states=hard)
    net.campaign("n1")
    st = net["n1"].status()
    assert (st.role, st.term) == (Role.FOLLOWER, 1)


def test_stale_preferred_node_leads_only_after_catching_up():
    """The preferred node gets leadership back only by transfer, once caught up, and the writes it
    missed survive (docs/guarantees.md#a-stale-preferred-node-taking-over)."""
    writes = (Entry(1, 1), Entry(1, 2, b"w2"), Entry(1, 3, b"w3"))
    hard = dict.fromkeys(IDS, HardState(term=1, commit=1))
    net = Network(logs={"n1": writes[:1], "n2": writes, "n3": writes}, hard_states=hard, settle_ticks=5)
    net.campaign("n1")
    net.tick(times=6 * ELECTION)
    assert net.leader() == "n1"
    n1_elections = [m for m in net.sent if isinstance(m, VoteRequest) and m.src == "n1" and not m.pre_vote]
    assert n1_elections and all(m.transfer for m in n1_elections)
    assert all(net.committed[n][1:3] == list(writes[1:]) for n in IDS)


def test_returning_preferred_node_must_settle_again_before_taking_over():
    """core.py: a voter must have *stayed* alive and caught up for settle_ticks, "so a flapping node
    cannot make leadership flap"; time it spent down does not count."""
    net = Network(settle_ticks=20)
    net.elect("n2")
    net.tick(times=3)  # n1 is caught up for a few ticks ...
    net.isolate("n1")
    net.tick("n2", "n3", times=5 * ELECTION)  # ... then down for a long time, in an idle cluster
    net.heal()
    net.tick(times=3)
    assert net.leader() == "n2"


# ================================================================================= snapshots (thesis §5)


def test_compact_drops_entries_the_snapshot_covers():
    """Thesis §5.1: "the entire current system state is written to a snapshot ... and the entire log up
    to that point is discarded"; ``retain`` keeps a few for followers slightly behind."""
    net = Network()
    leader = net.elect("n1")
    for data in (b"a", b"b", b"c"):
        leader.propose(data)
    net.deliver_all()
    leader.compact(snapshot_at(3), retain=1)
    assert (leader.status().snapshot_index, leader.status().last_index) == (2, 4)
    leader.compact(snapshot_at(4))
    assert (leader.status().snapshot_index, leader.status().last_index) == (4, 4)


def test_compact_refuses_a_snapshot_ahead_of_what_was_applied():
    """Thesis §5.1: a snapshot captures applied state, so it cannot cover an unapplied index."""
    net = Network()
    leader = net.elect("n1")
    leader.propose(b"a")
    with pytest.raises(ValueError):
        leader.compact(snapshot_at(2))


def test_lagging_follower_receives_install_snapshot():
    """Thesis §5.1: "the leader must occasionally send snapshots to followers that lag behind" when the
    entries they need have been discarded; replication then continues from the log."""
    net = Network()
    leader = net.elect("n1")
    net.isolate("n3")
    for data in (b"a", b"b", b"c"):
        leader.propose(data)
    net.deliver_all()
    leader.compact(snapshot_at(4))
    net.heal()
    net.tick("n1", times=STALL_TICKS)  # replication to n3 stalled: the leader probes again, needs a snapshot
    assert [s.meta.index for s in net.snapshots["n3"]] == [4]
    assert (net["n3"].status().commit, net["n3"].status().snapshot_index) == (4, 4)
    leader.propose(b"d")
    net.deliver_all()
    net.tick("n1")
    assert [e.data for e in net.committed["n3"]] == [b"", b"d"]


def test_follower_holding_the_snapshots_last_entry_keeps_the_log_after_it():
    """Thesis §5.1: "If instead the follower receives a snapshot that describes a prefix of its log ...
    entries following the snapshot are still valid and must be retained." """
    node = new_node(hard_state=HardState(term=1), log=log_of(1, 1, 1, 1))
    node.step(InstallSnapshot(term=1, src="n2", dst="n1", snapshot=snapshot_at(2)))
    rd = take(node)
    assert (rd.snapshot, node.status().last_index, node.status().commit) == (None, 4, 2)
    assert rd.messages == (AppendResponse(term=1, src="n1", dst="n2", success=True, match_index=2),)


@pytest.mark.parametrize("log", [log_of(1, 1, 2), log_of(1)], ids=["conflicting", "short"])
def test_follower_without_the_snapshots_last_entry_resets_its_log(log):
    """Thesis §5.1: "Usually the snapshot will contain new information not already in the recipient's
    log. In this case, the follower discards its entire log; it is all superseded by the snapshot." """
    node = new_node(hard_state=HardState(term=3), log=log)
    snap = snapshot_at(3, term=3)
    node.step(InstallSnapshot(term=3, src="n2", dst="n1", snapshot=snap))
    rd = take(node)
    assert (rd.snapshot, rd.committed) == (snap, ())
    st = node.status()
    assert (st.snapshot_index, st.last_index, st.commit) == (3, 3, 3)
    assert rd.messages == (AppendResponse(term=3, src="n1", dst="n2", success=True, match_index=3),)


# ==================================================================================== Ready contract


def test_ready_carries_what_to_persist_with_the_messages_that_depend_on_it():
    """ready.py / Figure 2: the term, the commit index and the entries an ack acknowledges are in the
    same Ready as the ack, so the caller persists them before it sends it."""
    node = new_node()
    node.step(append(1, (0, 0), Entry(1, 1), Entry(1, 2), commit=1))
    rd = take(node)
    assert (rd.hard_state, rd.entries) == (HardState(term=1, vote=None, commit=1), log_of(1, 1))
    assert rd.messages == (AppendResponse(term=1, src="n1", dst="n2", success=True, match_index=2),)
    assert rd.committed == (Entry(1, 1),)


def test_a_leader_counts_its_own_entries_only_once_they_are_durable():
    """Thesis §10.2.1: the leader may write its log in parallel with replicating it, so it counts
    its own log towards a majority only once advance() says the write is done. In a single-node
    cluster an entry therefore commits in the Ready after the one that persists it."""
    node = new_node(voters=("n1",))
    campaign_after(node)
    rd = node.ready()
    noop = Entry(1, 1, kind=EntryKind.NOOP)
    assert (rd.entries, rd.committed) == ((noop,), ())
    assert rd.must_sync and not rd.send_before_persisting  # its new term and vote are in this Ready
    node.propose(b"a")  # arrives while the caller is still persisting rd
    node.advance(rd)
    rd = take(node)
    assert (rd.entries, rd.committed) == ((Entry(1, 2, b"a"),), (noop,))
    assert rd.send_before_persisting  # term and vote are durable now: appends may leave first
    rd = take(node)
    assert (rd.entries, rd.committed) == ((), (Entry(1, 2, b"a"),))
    assert not rd.must_sync  # only the commit index changed
    assert not node.has_ready()


# ============================================================================ recovery after data loss


def test_a_node_that_lost_entries_does_not_vote_or_campaign_until_it_has_them_again():
    """Thesis §11.7.1 (disk loss): a node restarted without entries it once held may have acknowledged
    them as part of a majority. Voting now could elect a leader that lacks a committed entry, so it
    stays out of elections until its log reaches what it had
    (docs/guarantees.md#a-node-that-lost-acknowledged-entries)."""
    node = new_node(hard_state=HardState(term=3, vote="n3", commit=4), vote_floor=4)
    for _ in range(100):
        node.tick()
    assert node.status().role is Role.FOLLOWER  # never campaigned
    node.step(vote_request(4, (0, 0)))
    node.step(vote_request(4, (0, 0), pre_vote=True))
    assert [m.granted for m in outbox(node) if isinstance(m, VoteResponse)] == [False, False]
    # The leader of term 4 brings it back up to where it was.
    node.step(append(4, (0, 0), *(Entry(3, i) for i in range(1, 5)), commit=4))
    outbox(node)
    # (a hand-over's campaign, so that the lease of the leader it just heard from does not interfere)
    node.step(VoteRequest(term=5, src="n3", dst="n1", last_log_index=4, last_log_term=3, transfer=True))
    assert [m.granted for m in outbox(node) if isinstance(m, VoteResponse)] == [True]


def test_a_leader_learns_that_a_follower_lost_its_log_and_sends_it_everything_again():
    """A follower that restarted without its log answers a heartbeat promising more than it holds
    with where its log really ends; the leader lowers its match and catches it up from there."""
    net = Network()
    leader = net.elect("n1")
    for data in (b"a", b"b"):
        leader.propose(data)
    net.deliver_all()
    net.tick("n1")
    net.deliver_all()
    # n3 loses everything but its term and vote.
    hard = HardState(term=net["n3"].status().term, vote=None, commit=0)
    net.nodes["n3"] = new_node("n3", seed=9, hard_state=hard, vote_floor=3)
    net.stored["n3"].clear()
    net.tick("n1", times=2)  # heartbeats: n3 says its log is empty
    net.deliver_all()
    assert net["n3"].status().last_index == leader.status().last_index
    assert net["n3"].status().commit == leader.status().commit

"""One test per membership rule of Ongaro's dissertation, chapter 4 (see raft/membership.py).

Single-server changes with learners: a configuration takes effect when appended (§4.1), one change is
in flight at a time (§4.1) and only once the leader committed an entry of its term (the 2015
correction), learners never count (§4.2.1), a removed leader steps down once its removal commits
(§4.2.2), and a server that is not a voter cannot disturb anyone (§4.2.3).
"""

from __future__ import annotations

import pytest

from todonode.raft import (
    ALREADY_A_MEMBER,
    ALREADY_A_VOTER,
    CHANGE_IN_FLIGHT,
    LAST_VOTER,
    NOT_A_MEMBER,
    NOT_A_VOTER,
    NOT_LEADER,
    TERM_NOT_COMMITTED,
    Accepted,
    AppendEntries,
    ChangeKind,
    ClusterConfig,
    ConfigChange,
    Entry,
    EntryKind,
    HardState,
    InstallSnapshot,
    RaftNode,
    ReadState,
    Refused,
    Role,
    Snapshot,
    SnapshotMeta,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
    encode_config,
)

from .harness import IDS, Network, config_entry, log_of, new_node, outbox, take

ELECTION = 10  # RaftOptions.election_ticks
STALL_TICKS = 5  # replication that made no progress this long is restarted (see test_paper.py)


def add(member: str, address: str = "") -> ConfigChange:
    return ConfigChange(ChangeKind.ADD_LEARNER, member, address)


def promote(member: str) -> ConfigChange:
    return ConfigChange(ChangeKind.PROMOTE, member)


def remove(member: str) -> ConfigChange:
    return ConfigChange(ChangeKind.REMOVE, member)


def append_from_n2(term: int, prev: tuple[int, int], *entries: Entry, commit: int = 0) -> AppendEntries:
    return AppendEntries(
        term=term, src="n2", dst="n1", prev_index=prev[0], prev_term=prev[1], entries=entries, commit=commit
    )


def vote_request(
    term: int, src: str, *, last: tuple[int, int] = (9, 9), pre_vote: bool = False, dst: str = "n1"
) -> VoteRequest:
    return VoteRequest(
        term=term, src=src, dst=dst, last_log_index=last[0], last_log_term=last[1], pre_vote=pre_vote
    )


def campaigning(node: RaftNode) -> RaftNode:
    while node.status().role is Role.FOLLOWER:
        node.tick()
    outbox(node)
    return node


def make(net: Network, leader: RaftNode, change: ConfigChange) -> None:
    """Propose ``change`` on ``leader`` and deliver every message that follows."""
    assert isinstance(leader.propose_config_change(change), Accepted), change
    net.deliver_all()


def vote_requests_from(net: Network, node_id: str, since: int = 0) -> list[VoteRequest]:
    return [m for m in net.sent[since:] if isinstance(m, VoteRequest) and m.src == node_id]


# ============================================================= §4.1 a configuration lives in the log


def test_a_follower_takes_up_a_configuration_when_it_appends_it_not_when_it_is_committed():
    """Thesis §4.1: a server uses the latest configuration in its log, committed or not."""
    node = new_node(hard_state=HardState(term=1), log=log_of(1))
    node.step(append_from_n2(1, (1, 1), config_entry(1, 2, IDS, ("n4",)), commit=1))
    assert node.config == ClusterConfig(IDS, ("n4",))
    assert node.committed_config == ClusterConfig(IDS)


def test_a_leaders_change_is_in_effect_in_its_own_log_at_once():
    """Thesis §4.1: the leader counts with the new configuration from the moment it appends it — the
    new learner is tracked before the entry is committed anywhere."""
    net = Network()
    leader = net.elect("n1")
    net.join("n4")
    assert leader.propose_config_change(add("n4")) == Accepted(index=2, term=1)
    assert (leader.config, leader.committed_config) == (ClusterConfig(IDS, ("n4",)), ClusterConfig(IDS))
    assert [(p.node_id, p.voter) for p in leader.status().peers] == [
        ("n2", True),
        ("n3", True),
        ("n4", False),
    ]


def test_a_follower_falls_back_to_the_previous_configuration_when_its_entry_is_cut():
    """Thesis §4.1: an uncommitted configuration entry can be replaced by a new leader; the server then
    uses the configuration before it again."""
    node = new_node(hard_state=HardState(term=1), log=(Entry(1, 1), config_entry(1, 2, IDS, ("n4",))))
    assert node.config.learners == ("n4",)
    node.step(append_from_n2(2, (1, 1), Entry(2, 2)))
    assert node.config == ClusterConfig(IDS)


def test_a_restarted_node_takes_its_configuration_from_its_log_and_snapshot_not_its_options():
    """The log is the truth: the configuration in the options only starts a brand-new cluster."""
    removed_n3 = config_entry(1, 2, ("n1", "n2"))
    assert new_node(log=(Entry(1, 1), removed_n3)).config == ClusterConfig(("n1", "n2"))
    snapshot = Snapshot(SnapshotMeta(index=5, term=1, config=ClusterConfig(("n1", "n2"), ("n5",))), b"")
    assert new_node(snapshot=snapshot).config == ClusterConfig(("n1", "n2"), ("n5",))


def test_an_installed_snapshot_brings_its_configuration():
    """Thesis §5.1: a snapshot carries the configuration in effect at its last index."""
    node = new_node(hard_state=HardState(term=2), log=log_of(1))
    config = ClusterConfig(IDS, ("n4",))
    node.step(InstallSnapshot(term=2, src="n2", dst="n1", snapshot=Snapshot(SnapshotMeta(7, 2, config), b"")))
    assert node.config == config


def test_a_snapshot_must_carry_the_configuration_in_effect_at_its_index():
    """A follower installing a snapshot takes its configuration for the truth at that index, so the
    core refuses one built with any other (such as a later, still uncommitted one)."""
    net = Network()
    leader = net.elect("n1")
    net.join("n4")
    leader.propose_config_change(add("n4"))  # index 2, not yet committed
    with pytest.raises(ValueError, match="config_at"):
        leader.compact(Snapshot(SnapshotMeta(1, 1, leader.config), b""))
    leader.compact(Snapshot(SnapshotMeta(1, 1, leader.config_at(1)), b""))
    assert leader.status().snapshot_index == 1


# ================================================================ §4.1 one change at a time


def test_a_leader_refuses_a_second_change_while_the_first_is_uncommitted():
    """Thesis §4.1: a new change only once the last configuration in the log is committed, so
    consecutive configurations are one voter apart and their majorities always overlap."""
    net = Network()
    leader = net.elect("n1")
    net.join("n4")
    net.join("n5")
    assert isinstance(leader.propose_config_change(add("n4")), Accepted)
    assert leader.propose_config_change(add("n5")) == Refused(CHANGE_IN_FLIGHT)
    net.deliver_all()
    assert isinstance(leader.propose_config_change(add("n5")), Accepted)


def test_a_new_leader_changes_nothing_until_it_has_committed_an_entry_of_its_term():
    """Ongaro's 2015 correction to thesis §4.1: until then an uncommitted configuration of an earlier
    term may still sit in other logs, and its majorities and those of a new change need not meet."""
    net = Network()
    net.drop(lambda m: isinstance(m, AppendEntries))
    leader = net.elect("n1")
    net.join("n4")
    assert leader.propose_config_change(add("n4")) == Refused(TERM_NOT_COMMITTED)
    assert isinstance(leader.propose(b"a"), Accepted)  # ordinary writes are not held back
    net.heal()
    net.tick("n1", times=STALL_TICKS)
    assert isinstance(leader.propose_config_change(add("n4")), Accepted)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (add("n2"), ALREADY_A_MEMBER),
        (add("n4"), ALREADY_A_MEMBER),
        (promote("n2"), ALREADY_A_VOTER),
        (promote("n9"), NOT_A_MEMBER),
        (remove("n9"), NOT_A_MEMBER),
    ],
    ids=["add_a_voter", "add_a_learner", "promote_a_voter", "promote_a_stranger", "remove_a_stranger"],
)
def test_a_change_that_cannot_be_made_is_refused_with_its_reason(change, reason):
    net = Network(learners=1)
    leader = net.elect("n1")
    before = leader.config
    assert leader.propose_config_change(change) == Refused(reason)
    assert (leader.config, leader.status().last_index) == (before, 1)


def test_the_last_voter_cannot_be_removed():
    """Nobody would be left to elect a leader, or to commit the change itself."""
    net = Network(1)
    leader = net.elect("n1")
    net.tick("n1")
    assert leader.propose_config_change(remove("n1")) == Refused(LAST_VOTER)


def test_only_the_leader_takes_a_change():
    net = Network()
    net.elect("n1")
    assert net["n2"].propose_config_change(add("n4")) == Refused(NOT_LEADER, "n1")


# ======================================================================= §4.2.1 learners


def test_a_learner_receives_the_log_and_snapshots():
    """Thesis §4.2.1: a new server catches up as a non-voting member, from the log or, when the
    entries it needs are compacted, from a snapshot."""
    net = Network(learners=1)
    leader = net.elect("n1")
    leader.propose(b"a")
    net.deliver_all()
    net.tick("n1")
    assert [e.data for e in net.committed["n4"]] == [b"", b"a"]
    net.isolate("n4")
    leader.propose(b"b")
    net.deliver_all()
    leader.compact(Snapshot(SnapshotMeta(3, 1, leader.config_at(3)), b"state"))
    net.heal()
    net.tick("n1", times=STALL_TICKS)
    assert [s.meta.index for s in net.snapshots["n4"]] == [3]


def test_a_learner_never_counts_towards_a_majority():
    """Thesis §4.2.1: however many learners store an entry, it commits only on a majority of voters
    (here two learners and the leader would be three of five)."""
    net = Network(learners=2)
    leader = net.elect("n1")
    net.isolate("n2")
    net.isolate("n3")
    leader.propose(b"a")
    net.deliver_all()
    assert (net["n4"].status().last_index, net["n5"].status().last_index) == (2, 2)
    assert leader.status().commit == 1


def test_a_learner_never_campaigns():
    """Thesis §4.2.1: a learner does not start elections, not even when the leader is gone or hands
    leadership to it."""
    net = Network(learners=1)
    leader = net.elect("n1")
    net.isolate("n1")
    net.tick("n4", times=10 * ELECTION)
    net["n4"].step(TimeoutNow(term=leader.status().term, src="n1", dst="n4"))
    assert net["n4"].status().role is Role.FOLLOWER
    assert vote_requests_from(net, "n4") == []


def test_a_candidate_asks_only_the_voters_of_its_configuration():
    net = Network(learners=1)
    net.elect("n1")
    assert {m.dst for m in net.sent if isinstance(m, VoteRequest)} == {"n2", "n3"}


def test_a_learner_may_grant_a_vote_but_it_counts_only_where_it_is_a_voter():
    """A learner may have been promoted without knowing it yet, so it answers a vote request (as in
    etcd); only a candidate whose own configuration lists it as a voter counts that grant."""
    learner = new_node("n4", learners=("n4",))
    learner.step(vote_request(1, "n2", dst="n4"))
    assert [m.granted for m in outbox(learner)] == [True]

    lists_n4_as_learner = campaigning(new_node("n1", learners=("n4",), pre_vote=False))
    lists_n4_as_learner.step(VoteResponse(term=1, src="n4", dst="n1", granted=True))
    assert lists_n4_as_learner.status().role is Role.CANDIDATE

    lists_n4_as_voter = campaigning(new_node("n1", ("n1", "n2", "n4"), pre_vote=False))
    lists_n4_as_voter.step(VoteResponse(term=1, src="n4", dst="n1", granted=True))
    assert lists_n4_as_voter.status().role is Role.LEADER


def test_adding_a_voter_takes_two_changes_and_the_promoted_learner_then_counts():
    """Thesis §4.2.1: add as a learner, let it catch up, then promote it; from the promotion on it is
    part of every majority count (here n1, n3 and n4 are three of four)."""
    net = Network()
    leader = net.elect("n1")
    net.join("n4")
    make(net, leader, add("n4"))
    net.tick("n1")
    assert {p.node_id: p.match for p in leader.status().peers}["n4"] == leader.status().last_index
    make(net, leader, promote("n4"))
    assert leader.config == ClusterConfig(("n1", "n2", "n3", "n4"))
    net.isolate("n2")
    accepted = leader.propose(b"a")
    net.deliver_all()
    assert isinstance(accepted, Accepted)
    assert leader.status().commit == accepted.index


# ============================================================ §4.2.2 removing the current leader


def test_a_removed_leader_leads_until_its_removal_commits_without_counting_itself():
    """Thesis §4.2.2: the leader replicates and commits for a configuration that no longer includes
    it: n1 and n2 are a majority of the old three, not of the new {n2, n3}."""
    net = Network()
    leader = net.elect("n1")
    net.isolate("n3")
    assert isinstance(leader.propose_config_change(remove("n1")), Accepted)
    config = encode_config(ClusterConfig(("n2", "n3")))
    leader.propose(b"a")
    net.deliver_all()
    assert (leader.status().role, leader.status().commit) == (Role.LEADER, 1)
    net.heal()
    net.tick("n1", times=STALL_TICKS)
    assert leader.status().role is Role.FOLLOWER
    assert [(e.kind, e.data) for e in net.committed["n3"]][1:3] == [
        (EntryKind.CONFIG, config),
        (EntryKind.COMMAND, b"a"),
    ]


def test_a_removed_leader_steps_down_once_its_removal_commits_and_hands_over():
    """Thesis §4.2.2: it steps down when the change commits; handing over to a voter that holds its
    whole log spares the cluster an election timeout."""
    net = Network()
    leader = net.elect("n1")
    make(net, leader, remove("n1"))
    assert leader.status().role is Role.FOLLOWER
    assert [(m.src, m.dst) for m in net.sent if isinstance(m, TimeoutNow)] == [("n1", "n2")]
    assert (net.leader(), net["n2"].status().term) == ("n2", 2)
    since = len(net.sent)
    net.isolate("n1")
    net.tick("n1", times=10 * ELECTION)
    assert vote_requests_from(net, "n1", since) == []


def test_a_leader_that_removed_itself_and_lost_its_majority_campaigns_until_the_change_commits():
    """Thesis §4.2.2: a server that an uncommitted change removes may still be needed to commit it, so
    it still campaigns — without counting its own vote. Here n1 removes itself, cannot reach n2 and
    steps down (CheckQuorum); n2, whose log lacks the change, needs n1's vote and can never get it,
    since n1's log is ahead. Only n1 can finish the change; then it steps down for good."""
    net = Network(2)
    leader = net.elect("n1")
    net.isolate("n2")
    assert isinstance(leader.propose_config_change(remove("n1")), Accepted)
    since = len(net.sent)
    net.tick("n1", times=4 * ELECTION)
    # It campaigns, asking the voters of its configuration alone, and its own vote wins it nothing.
    asked = {m.dst for m in vote_requests_from(net, "n1", since)}
    assert (asked, leader.status().role) == ({"n2"}, Role.PRE_CANDIDATE)
    net.heal()
    net.tick(times=6 * ELECTION)
    assert (net.leader(), net["n2"].config) == ("n2", ClusterConfig(("n2",)))
    since = len(net.sent)
    net.tick("n1", times=10 * ELECTION)
    assert vote_requests_from(net, "n1", since) == []


# ============================================================ §4.2.3 servers removed or not yet added


@pytest.mark.parametrize("pre_vote", [False, True])
def test_a_vote_request_from_a_server_that_is_not_a_voter_is_ignored(pre_vote):
    """Thesis §4.2.3: a removed server (or a learner, or a stranger) asking for votes is not answered,
    and its term is not taken up — here its log, like a removed server's, is behind ours."""
    node = new_node(learners=("n4",), hard_state=HardState(term=1), log=log_of(1, 1))
    for src in ("n4", "n9"):
        node.step(vote_request(5, src, last=(1, 1), pre_vote=pre_vote))
    rd = take(node)
    assert (rd.messages, node.status().term) == ((), 1)
    assert [(d.candidate, d.granted, d.reason) for d in rd.votes] == [
        ("n4", False, NOT_A_VOTER),
        ("n9", False, NOT_A_VOTER),
    ]  # reported all the same, like a request refused under the leader lease


def test_a_voter_whose_configuration_is_stale_still_answers_a_candidate_whose_log_is_ahead():
    """Thesis §4.2.3 limited by §4.1: n1 holds an uncommitted removal of n2 from an old term, which the
    newer log of n2 has replaced. Ignoring n2 there could leave nobody able to win; n2's log being at
    least as up to date as n1's says n1's configuration may be the stale one, so n1 answers."""
    stale_removal = config_entry(1, 2, ("n1", "n3"))
    node = new_node(hard_state=HardState(term=1), log=(Entry(1, 1), stale_removal))
    assert "n2" not in node.config.voters
    node.step(vote_request(3, "n2", last=(5, 2)))
    assert [(m.dst, m.granted) for m in outbox(node)] == [("n2", True)]


def test_a_removed_server_that_never_learnt_of_it_cannot_disturb_the_cluster_without_pre_vote_or_lease():
    """Thesis §4.2.3: cut off before the change reached it, n3 times out again and again and raises its
    term; its vote requests are ignored, so the leader and its followers never hear of that term —
    without PreVote, and without the leader lease of CheckQuorum, which would otherwise shield them."""
    net = Network(pre_vote=False, check_quorum=False)
    leader = net.elect("n1")
    net.isolate("n3")
    make(net, leader, remove("n3"))
    net.tick(times=5 * ELECTION)
    assert net["n3"].status().term > 1
    net.heal()
    net.tick(times=5 * ELECTION)
    assert {(net[n].status().term, net[n].status().leader) for n in ("n1", "n2")} == {(1, "n1")}


def test_a_removed_follower_receives_the_entry_that_removes_it_and_stops_campaigning():
    """The leader keeps replicating to a server the latest change removed until the change commits, so
    the server has the entry — and, no longer a voter in its own log, never campaigns."""
    net = Network()
    leader = net.elect("n1")
    make(net, leader, remove("n3"))
    assert net["n3"].config == ClusterConfig(("n1", "n2"))
    assert [p.node_id for p in leader.status().peers] == ["n2"]  # tracked until the removal committed
    since = len(net.sent)
    net.isolate("n3")
    net.tick("n3", times=10 * ELECTION)
    assert vote_requests_from(net, "n3", since) == []


def test_a_node_that_knows_no_member_waits_for_a_leader():
    """A node joining a cluster starts with no configuration: no campaigns, and no votes it cannot
    justify — every candidate is a stranger to it."""
    node = new_node("n4", voters=())
    for _ in range(10 * ELECTION):
        node.tick()
    node.step(vote_request(1, "n1", dst="n4"))  # a log ahead of its empty one makes no difference
    node.step(vote_request(1, "n1", dst="n4", pre_vote=True))
    st = node.status()
    assert (st.role, st.term, st.quorum, outbox(node)) == (Role.FOLLOWER, 0, 0, [])


def test_a_joining_node_takes_the_log_and_the_configuration_from_a_leader_it_did_not_know():
    """Every message but a vote request is taken from any sender its term allows: a server being
    added hears from the leader before it holds the entry that lists it."""
    net = Network()
    leader = net.elect("n1")
    leader.propose(b"a")
    net.deliver_all()
    net.join("n4")
    make(net, leader, add("n4", "http://127.0.0.1:4004"))
    net.tick("n1")
    assert net["n4"].config == leader.config
    assert net["n4"].config.address_of("n4") == "http://127.0.0.1:4004"
    assert [e.data for e in net.committed["n4"]][:2] == [b"", b"a"]


# ==================================== leader preference, transfer, CheckQuorum and ReadIndex


@pytest.mark.parametrize("target", ["n4", "n9"], ids=["learner", "stranger"])
def test_leadership_is_never_transferred_to_a_learner_or_a_stranger(target):
    """Thesis §3.10 with §4.2.1: the target must be able to win an election, so it must be a voter."""
    net = Network(learners=1)
    leader = net.elect("n1")
    assert leader.transfer_leadership(target) == Refused(NOT_A_VOTER, "n1")
    assert leader.status().transferee is None


def test_leader_preference_follows_the_configuration_in_effect():
    """core.py: the most preferred voter alive takes over — never one that has been removed."""
    net = Network(settle_ticks=5)
    net.isolate("n1")
    leader = net.elect("n2")
    make(net, leader, remove("n1"))
    net.heal()
    net.tick(times=3 * ELECTION)
    assert net.leader() == "n2"
    assert [m for m in net.sent if isinstance(m, TimeoutNow)] == []


def test_check_quorum_counts_voters_only():
    """Thesis §6.2 with §4.2.1: a leader that hears only from learners has lost its majority."""
    net = Network(learners=2)
    leader = net.elect("n1")
    net.isolate("n2")
    net.isolate("n3")
    net.tick("n1", times=2 * ELECTION)
    assert leader.status().role is Role.FOLLOWER


def test_a_read_is_confirmed_by_a_majority_of_voters_only():
    """Thesis §6.4 with §4.2.1: heartbeats answered by learners prove nothing about leadership."""
    net = Network(learners=2)
    leader = net.elect("n1")
    net.isolate("n2")
    net.isolate("n3")
    leader.read_index("r1")
    net.tick("n1", times=3)
    assert net.read_states["n1"] == []
    net.heal()
    net.tick("n1")
    assert net.read_states["n1"] == [ReadState("r1", 1)]


def test_status_tells_each_peers_role_and_match():
    """What the runtime needs to decide when a learner is caught up enough to promote."""
    net = Network(learners=1)
    leader = net.elect("n1")
    net.tick("n1")
    assert [(p.node_id, p.voter, p.match) for p in leader.status().peers] == [
        ("n2", True, 1),
        ("n3", True, 1),
        ("n4", False, 1),
    ]

"""Each role's step function: what a message of the current term does to a follower, a (pre-)candidate
and a leader, and what each of them leaves alone because it is meant for another role."""

from __future__ import annotations

import pytest

from todonode.raft import (
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    RaftNode,
    ReadIndexRequest,
    ReadIndexResponse,
    Role,
    TimeoutNow,
    VoteResponse,
)

from .harness import Network, new_node, outbox


def pre_candidate() -> RaftNode:
    node = new_node()
    while node.status().role is Role.FOLLOWER:
        node.tick()
    outbox(node)
    return node


def snapshot_of(node: RaftNode) -> tuple[object, ...]:
    st = node.status()
    return (st.role, st.term, st.leader, st.commit, st.last_index, node.votes_granted)


@pytest.mark.parametrize(
    "late",
    [
        VoteResponse(term=0, src="n2", dst="n1", granted=True),
        AppendResponse(term=0, src="n2", dst="n1", success=True, match_index=5),
        HeartbeatResponse(term=0, src="n2", dst="n1", round=3),
    ],
    ids=["vote_response", "append_response", "heartbeat_response"],
)
def test_a_follower_takes_nothing_from_answers_meant_for_a_candidate_or_leader(late):
    node = new_node()
    before = snapshot_of(node)
    node.step(late)
    assert snapshot_of(node) == before
    assert outbox(node) == []


def test_a_pre_candidate_does_not_count_answers_to_a_real_vote():
    """Thesis §9.6: only pre-vote answers decide a pre-vote; a late vote answer of this term is no
    grant."""
    node = pre_candidate()
    term = node.status().term
    node.step(VoteResponse(term=term, src="n2", dst="n1", granted=True, pre_vote=False))
    node.step(VoteResponse(term=term, src="n3", dst="n1", granted=True, pre_vote=False))
    assert node.status().role is Role.PRE_CANDIDATE


def test_a_pre_candidate_wins_with_pre_vote_answers():
    node = pre_candidate()
    node.step(VoteResponse(term=1, src="n2", dst="n1", granted=True, pre_vote=True))
    assert (node.status().role, node.status().term) == (Role.CANDIDATE, 1)


def test_a_candidate_follows_a_heartbeat_from_the_leader_of_its_term():
    """§5.2: a candidate that hears from a leader of its own term becomes its follower."""
    node = new_node(pre_vote=False)
    while node.status().role is Role.FOLLOWER:
        node.tick()
    node.step(Heartbeat(term=1, src="n3", dst="n1", round=1))
    st = node.status()
    assert (st.role, st.term, st.leader) == (Role.FOLLOWER, 1, "n3")


def test_a_candidate_refuses_a_forwarded_read_as_a_follower_does():
    """Thesis §6.4: only a leader serves ReadIndex."""
    node = pre_candidate()
    node.step(ReadIndexRequest(term=0, src="n2", dst="n1", ctx="r1"))
    assert outbox(node) == [ReadIndexResponse(term=0, src="n1", dst="n2", ctx="r1", ok=False)]


def test_a_leader_ignores_timeout_now():
    """Thesis §3.10: TimeoutNow asks a follower to take over; a leader has nothing to take over."""
    net = Network()
    leader = net.elect("n1")
    term = leader.status().term
    leader.step(TimeoutNow(term=term, src="n2", dst="n1"))
    assert (leader.status().role, leader.status().term) == (Role.LEADER, term)


def test_a_leader_serves_a_forwarded_read_once_a_majority_confirms_it():
    net = Network()
    net.elect("n1")
    net["n2"].read_index("r1")
    net.deliver_all()
    assert [rs.ctx for rs in net.read_states["n2"]] == ["r1"]

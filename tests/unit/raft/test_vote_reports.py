"""Every request for a node's vote is reported in ``Ready.votes`` with the rule that decided it, so the
runtime can tell an election in words. The report follows the decision; it never changes it."""

from __future__ import annotations

import pytest

from todonode.raft import (
    ALREADY_VOTED,
    FOLLOWS_LEADER,
    LEADER_LEASE,
    LOG_BEHIND,
    RECOVERING,
    STALE_TERM,
    VOTE_GRANTED,
    HardState,
    Heartbeat,
    Ready,
    VoteDecision,
    VoteRequest,
    VoteResponse,
)

from .harness import Network, log_of, new_node, take


def request(
    term: int, last: tuple[int, int] = (0, 0), *, src: str = "n2", pre_vote: bool = False
) -> VoteRequest:
    return VoteRequest(
        term=term, src=src, dst="n1", last_log_index=last[0], last_log_term=last[1], pre_vote=pre_vote
    )


def decided(rd: Ready) -> list[tuple[str, bool, str]]:
    return [(v.candidate, v.granted, v.reason) for v in rd.votes]


def answers(rd: Ready) -> list[bool]:
    return [m.granted for m in rd.messages if isinstance(m, VoteResponse)]


@pytest.mark.parametrize("pre_vote", [False, True])
def test_a_granted_vote_is_reported_with_both_logs(pre_vote: bool) -> None:
    node = new_node(log=log_of(1, 1), hard_state=HardState(term=1))
    node.step(request(2, (3, 1), pre_vote=pre_vote))
    rd = take(node)
    assert rd.votes == (
        VoteDecision(
            candidate="n2",
            term=2,
            pre_vote=pre_vote,
            granted=True,
            reason=VOTE_GRANTED,
            voter_term=1 if pre_vote else 2,  # a real vote of a later term moves the voter to it first
            voted_for=None,
            leader=None,
            log=(2, 1),
            candidate_log=(3, 1),
        ),
    )
    assert answers(rd) == [True]


@pytest.mark.parametrize("pre_vote", [False, True])
def test_a_candidate_whose_log_is_behind_is_refused_for_that_reason(pre_vote: bool) -> None:
    """§5.4.1."""
    node = new_node(log=log_of(1, 2), hard_state=HardState(term=2))
    node.step(request(3, (5, 1), pre_vote=pre_vote))
    rd = take(node)
    assert decided(rd) == [("n2", False, LOG_BEHIND)]
    assert rd.votes[0].log == (2, 2) and rd.votes[0].candidate_log == (5, 1)
    assert answers(rd) == [False]


def test_a_second_candidate_in_the_same_term_hears_whom_the_vote_went_to() -> None:
    """§5.2: one vote per term, first come first served."""
    node = new_node()
    node.step(request(1, src="n2"))
    node.step(request(1, src="n3"))
    rd = take(node)
    assert decided(rd) == [("n2", True, VOTE_GRANTED), ("n3", False, ALREADY_VOTED)]
    assert rd.votes[1].voted_for == "n2"


def test_a_node_following_a_leader_of_the_term_refuses_a_candidate_of_that_term() -> None:
    node = new_node(hard_state=HardState(term=2))
    node.step(Heartbeat(term=2, src="n3", dst="n1", round=1))
    take(node)
    node.step(request(2, src="n2"))
    rd = take(node)
    assert decided(rd) == [("n2", False, FOLLOWS_LEADER)]
    assert rd.votes[0].leader == "n3"


def test_a_request_under_the_leader_lease_is_reported_though_it_gets_no_answer() -> None:
    """Thesis §4.2.3: within an election timeout of hearing from its leader, a node ignores requests
    for a later term; the report says why nothing came back."""
    net = Network()
    net.elect("n1")
    n2 = net["n2"]
    n2.step(VoteRequest(term=5, src="n3", dst="n2", last_log_index=9, last_log_term=9, pre_vote=True))
    rd = take(n2)
    reported = [(v.candidate, v.granted, v.reason, v.leader) for v in rd.votes]
    assert reported == [("n3", False, LEADER_LEASE, "n1")]
    assert answers(rd) == []


@pytest.mark.parametrize("pre_vote", [False, True])
def test_a_candidate_of_an_earlier_term_is_refused_as_stale(pre_vote: bool) -> None:
    """§5.1."""
    node = new_node(hard_state=HardState(term=4))
    node.step(request(3, (9, 3), pre_vote=pre_vote))
    rd = take(node)
    assert decided(rd) == [("n2", False, STALE_TERM)]
    assert rd.votes[0].voter_term == 4


def test_a_pre_vote_for_the_voters_own_term_is_refused_as_stale() -> None:
    """A pre-vote is granted only to a later term than the voter's."""
    node = new_node(hard_state=HardState(term=3))
    node.step(request(3, (9, 3), pre_vote=True))
    assert decided(take(node)) == [("n2", False, STALE_TERM)]


def test_a_node_that_lost_entries_refuses_every_vote_while_it_recovers() -> None:
    node = new_node(vote_floor=5)
    node.step(request(1, (9, 9)))
    assert decided(take(node)) == [("n2", False, RECOVERING)]


def test_reports_wait_for_the_next_ready_and_are_handed_out_once() -> None:
    node = new_node()
    node.step(request(1))
    assert node.has_ready()
    assert len(take(node).votes) == 1
    assert not node.has_ready()

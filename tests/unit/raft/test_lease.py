"""Thesis §6.4.1, lease reads (raft/lease.py): a leader whose last heartbeat round a majority answered
recently enough answers a linearizable read at once; everywhere the lease might not hold, the read
falls back to a ReadIndex round."""

from __future__ import annotations

import pytest

from todonode.raft import LEADER_LEASE, VOTE_GRANTED, ReadState, TimeoutNow, VoteRequest

from .harness import Network, new_node, take

DRIFT_TICKS = 2
LEASE_TICKS = 10 - 1 - DRIFT_TICKS  # the harness's election timeout is 10 ticks


def lease_leader() -> Network:
    """n1 leads with lease reads on, and its last heartbeat round has just been answered by all."""
    net = Network()
    net.nodes["n1"] = new_node("n1", seed=1, lease_drift_ticks=DRIFT_TICKS)
    net.elect("n1")
    net.tick("n1")
    return net


def cut_off_followers(net: Network) -> None:
    net.isolate("n2")
    net.isolate("n3")


def test_a_leader_within_its_lease_answers_a_read_without_a_heartbeat_round():
    """Thesis §6.4.1: "the leader would use the normal heartbeat mechanism to maintain a lease"; within
    it, a read is served without contacting anyone."""
    net = lease_leader()
    cut_off_followers(net)  # no round could be answered now
    assert net["n1"].read_index("r1") is None
    net.collect("n1")
    assert net.read_states["n1"] == [ReadState("r1", 1)]


def test_the_lease_ends_an_election_timeout_less_one_tick_and_the_drift_margin_after_its_round():
    net = lease_leader()
    cut_off_followers(net)
    net.tick("n1", times=LEASE_TICKS - 1)
    net["n1"].read_index("in lease")
    net.tick("n1")  # the lease has run out: this read needs a round nobody can answer
    net["n1"].read_index("after lease")
    net.collect("n1")
    assert net.read_states["n1"] == [ReadState("in lease", 1)]
    net.heal()
    net.tick("n1")
    assert net.read_states["n1"][-1] == ReadState("after lease", 1)


def test_without_the_option_every_read_takes_a_round():
    net = Network()
    leader = net.elect("n1")
    net.tick("n1")
    cut_off_followers(net)
    leader.read_index("r1")
    net.collect("n1")
    assert net.read_states["n1"] == []


def test_a_leader_whose_ticks_fell_behind_takes_a_round_until_a_new_one_is_answered():
    """A stopped loop or process makes ticks undercount real time; the runtime says so."""
    net = lease_leader()
    net["n1"].expire_lease()
    cut_off_followers(net)
    net["n1"].read_index("r1")
    net.collect("n1")
    assert net.read_states["n1"] == []
    net.heal()
    net.tick("n1")  # a round sent after the stall, answered: the lease is back
    cut_off_followers(net)
    net["n1"].read_index("r2")
    net.collect("n1")
    assert [rs.ctx for rs in net.read_states["n1"]] == ["r1", "r2"]


def test_no_lease_for_the_rest_of_a_term_in_which_a_timeout_now_went_out():
    """Thesis §3.10: the target of a TimeoutNow campaigns at once and voters ignore their leases for it,
    so the sender cannot count on them any more, even once its hand-over was given up."""
    net = lease_leader()
    net.drop(lambda m: isinstance(m, TimeoutNow))  # sent, but slow to arrive
    net["n1"].transfer_leadership("n2")
    net.tick("n1", times=10)  # the hand-over is given up; rounds go on being answered
    cut_off_followers(net)
    net["n1"].read_index("r1")
    net.collect("n1")
    assert net.read_states["n1"] == []


def test_a_voter_with_leases_on_grants_no_vote_for_an_election_timeout_after_it_starts():
    """It may have answered a lease-holding leader just before it stopped."""
    request = VoteRequest(term=5, src="n3", dst="n2", last_log_index=0, last_log_term=0)
    for lease, first_answer in ((DRIFT_TICKS, LEADER_LEASE), (None, VOTE_GRANTED)):
        voter = new_node("n2", seed=2, lease_drift_ticks=lease)
        voter.step(request)
        assert take(voter).votes[0].reason == first_answer
    voter = new_node("n2", seed=2, lease_drift_ticks=DRIFT_TICKS, election_ticks=10)
    for _ in range(10):
        voter.tick()
    voter.step(request)
    assert take(voter).votes[-1].reason == VOTE_GRANTED


def test_a_drift_margin_must_leave_a_lease_and_leases_need_check_quorum():
    with pytest.raises(ValueError, match="leaves no lease"):
        new_node(lease_drift_ticks=9)
    with pytest.raises(ValueError, match="check_quorum"):
        new_node(lease_drift_ticks=DRIFT_TICKS, check_quorum=False)

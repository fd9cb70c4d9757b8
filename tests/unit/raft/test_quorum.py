"""MajorityConfig: committed index, vote result, CheckQuorum and ReadIndex rounds over a set of voters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from todonode.raft import ClusterConfig
from todonode.raft.quorum import MajorityConfig, VoteResult


def voters(*ids: str) -> MajorityConfig:
    return MajorityConfig(frozenset(ids))


@pytest.mark.parametrize(("size", "quorum"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (7, 4)])
def test_a_majority_is_more_than_half_of_the_voters(size, quorum):
    assert voters(*(f"n{i}" for i in range(size))).quorum == quorum


def test_a_majority_of_nobody_is_refused():
    with pytest.raises(ValueError):
        voters()


def test_cluster_config_counts_its_quorum_through_its_majority():
    config = ClusterConfig(("n1", "n2", "n3", "n4"))
    assert config.majority() == voters("n1", "n2", "n3", "n4")
    assert config.quorum() == 3


# ============================================================================ §5.3 committed index


@pytest.mark.parametrize(
    ("acked", "committed"),
    [
        ({"a": 5, "b": 3, "c": 1}, 3),
        ({"a": 5, "b": 5, "c": 1}, 5),
        ({"a": 7, "b": 2, "c": 2}, 2),
    ],
)
def test_committed_index_is_the_highest_index_a_majority_stored(acked, committed):
    assert voters("a", "b", "c").committed_index(acked) == committed


def test_committed_index_with_an_even_number_of_voters_needs_more_than_half():
    """Four voters: two of them holding an entry is not a majority, three is."""
    four = voters("a", "b", "c", "d")
    assert four.committed_index({"a": 9, "b": 9, "c": 4, "d": 1}) == 4
    assert four.committed_index({"a": 9, "b": 9, "c": 9, "d": 1}) == 9


def test_committed_index_of_a_single_voter_is_its_own():
    assert voters("a").committed_index({"a": 6}) == 6


def test_a_voter_that_acknowledged_nothing_counts_as_index_zero():
    assert voters("a", "b", "c").committed_index({"a": 5}) == 0
    assert voters("a", "b", "c").committed_index({"a": 5, "b": 4}) == 4


def test_acknowledgements_of_non_voters_do_not_count():
    assert voters("a", "b", "c").committed_index({"a": 5, "learner": 5, "other": 5}) == 0


@settings(derandomize=True, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=7))
def test_committed_index_is_stored_by_a_majority_and_nothing_higher_is(indexes):
    config = voters(*(f"n{i}" for i in range(len(indexes))))
    acked = {f"n{i}": index for i, index in enumerate(indexes)}
    committed = config.committed_index(acked)
    assert sum(index >= committed for index in indexes) >= config.quorum
    assert sum(index >= committed + 1 for index in indexes) < config.quorum


# ============================================================================ §5.2 vote result


@pytest.mark.parametrize(
    ("votes", "result"),
    [
        ({"a": True}, VoteResult.PENDING),
        ({"a": True, "b": True}, VoteResult.WON),
        ({"a": True, "b": False}, VoteResult.PENDING),
        ({"a": True, "b": False, "c": False}, VoteResult.LOST),
        ({"a": False, "b": False}, VoteResult.LOST),
    ],
)
def test_vote_result_with_three_voters(votes, result):
    assert voters("a", "b", "c").vote_result(votes) is result


@pytest.mark.parametrize(
    ("votes", "result"),
    [
        ({"a": True, "b": True}, VoteResult.PENDING),
        ({"a": True, "b": True, "c": False}, VoteResult.PENDING),
        ({"a": True, "b": True, "c": True}, VoteResult.WON),
        # Two refusals leave two voters who could still grant: one short of the three needed.
        ({"a": True, "b": True, "c": False, "d": False}, VoteResult.LOST),
    ],
)
def test_vote_result_with_four_voters_an_even_split_loses(votes, result):
    assert voters("a", "b", "c", "d").vote_result(votes) is result


def test_a_single_voter_wins_with_its_own_vote():
    assert voters("a").vote_result({}) is VoteResult.PENDING
    assert voters("a").vote_result({"a": True}) is VoteResult.WON
    assert voters("a").vote_result({"a": False}) is VoteResult.LOST


def test_votes_from_non_voters_do_not_count():
    three = voters("a", "b", "c")
    assert three.vote_result({"a": True, "x": True, "y": True}) is VoteResult.PENDING
    assert three.vote_result({"a": True, "x": False, "y": False}) is VoteResult.PENDING


# ============================================================================ §6.2 CheckQuorum


@pytest.mark.parametrize(
    ("active", "expected"),
    [({"a"}, False), ({"a", "b"}, False), ({"a", "b", "c"}, True), ({"a", "b", "c", "d"}, True)],
)
def test_check_quorum_with_four_voters_needs_three_active(active, expected):
    assert voters("a", "b", "c", "d").has_quorum(active) is expected


def test_check_quorum_of_a_single_voter_is_the_voter_itself():
    assert voters("a").has_quorum(["a"])
    assert not voters("a").has_quorum([])


def test_check_quorum_counts_each_voter_once_and_no_one_else():
    three = voters("a", "b", "c")
    assert not three.has_quorum(["a", "a", "a"])
    assert not three.has_quorum(["a", "learner"])
    assert three.voters_among(["a", "a", "b", "learner"]) == 2


# ============================================================================ §6.4 ReadIndex rounds


def test_confirmed_round_is_the_latest_round_a_majority_answered():
    three = voters("a", "b", "c")
    assert three.confirmed_round({"a": 7, "b": 6, "c": 2}) == 6
    assert three.confirmed_round({"a": 7}) == 0


def test_confirmed_round_with_four_voters_needs_three_answers():
    assert voters("a", "b", "c", "d").confirmed_round({"a": 5, "b": 5, "c": 3, "d": 0}) == 3


def test_confirmed_round_of_a_single_voter_is_its_own():
    assert voters("a").confirmed_round({"a": 4}) == 4

"""The checker's membership rules fire on the evidence they name, and only on it."""

from __future__ import annotations

import random

import pytest

from todonode.raft import ClusterConfig, Entry, EntryKind, HardState, RaftNode, RaftOptions, encode_config

from .checker import (
    CONFIGURATION_FROM_THE_LOG,
    ONE_VOTER_PER_CHANGE,
    OVERLAPPING_MAJORITIES,
    Checker,
    Violation,
    disjoint_majorities,
)

ABC = ClusterConfig(("a", "b", "c"))


def config_entry(index: int, voters: tuple[str, ...], learners: tuple[str, ...] = ()) -> Entry:
    return Entry(1, index, encode_config(ClusterConfig(voters, learners)), EntryKind.CONFIG)


def core(node_id: str, voters: tuple[str, ...], *, log: tuple[Entry, ...] = (), commit: int = 0) -> RaftNode:
    options = RaftOptions(node_id=node_id, config=ClusterConfig(voters))
    return RaftNode(options, random.Random(0), hard_state=HardState(term=1, commit=commit), entries=log)


@pytest.mark.parametrize(
    ("a", "b", "disjoint"),
    [
        ("abc", "abc", False),
        ("abc", "abcd", False),  # one voter added
        ("abcd", "abc", False),  # one voter removed
        ("abc", "abcde", True),  # two added: {a, b} and {c, d, e}
        ("abcde", "abc", True),  # two removed
        ("abc", "abd", True),  # one removed and one added: {a, c} and {b, d}
        ("abcd", "abce", False),  # one replaced in four: majorities of three always meet
        ("abcd", "bcd", False),
    ],
)
def test_disjoint_majorities_exist_only_two_voter_changes_apart(a, b, disjoint):
    found = disjoint_majorities(frozenset(a), frozenset(b))
    assert (found is not None) is disjoint
    if found is not None:
        majority_a, majority_b = found
        assert len(majority_a) > len(a) / 2 and len(majority_b) > len(b) / 2
        assert set(majority_a) <= set(a) and set(majority_b) <= set(b)
        assert not set(majority_a) & set(majority_b)


def test_a_leader_that_appends_a_change_of_two_voters_breaks_one_voter_per_change():
    checker = Checker()
    checker.on_leader_config(
        "a", ABC, [config_entry(5, ("a", "b", "c", "d")), config_entry(6, ("a", "b", "d"))]
    )
    with pytest.raises(Violation) as caught:
        checker.on_leader_config("a", ABC, [config_entry(5, ("a", "b", "c", "d", "e"))])
    assert caught.value.rule == ONE_VOTER_PER_CHANGE


def test_a_node_acting_on_another_configuration_than_its_logs_breaks_configuration_from_the_log():
    checker = Checker()
    checker.on_config("a", ABC, ABC)
    with pytest.raises(Violation) as caught:
        checker.on_config("a", ABC, ClusterConfig(("a", "b", "c"), ("d",)))
    assert caught.value.rule == CONFIGURATION_FROM_THE_LOG


def test_two_deciding_nodes_whose_majorities_can_miss_each_other_break_overlapping_majorities():
    cores = {"a": core("a", ("a", "b", "c")), "e": core("e", ("a", "b", "c", "d", "e"))}
    checker = Checker()
    for node_id, c in cores.items():
        checker.on_config(node_id, c.config, c.config)
    with pytest.raises(Violation) as caught:
        checker.check_majorities(cores.__getitem__)
    assert caught.value.rule == OVERLAPPING_MAJORITIES


def test_a_node_that_lacks_a_committed_entry_decides_nothing_and_is_not_compared():
    """Cut off while two changes went through, ``a`` still acts on the first configuration; lacking
    the committed entries it cannot be elected, so its configuration is no danger."""
    committed = (
        Entry(1, 1),
        config_entry(2, ("a", "b", "c", "d")),
        config_entry(3, ("a", "b", "c", "d", "e")),
    )
    cores = {"a": core("a", ("a", "b", "c")), "e": core("e", ("a", "b", "c"), log=committed, commit=3)}
    checker = Checker()
    checker.on_leader_commit(cores["e"])
    for node_id, c in cores.items():
        checker.on_config(node_id, c.config, c.config)
    checker.check_majorities(cores.__getitem__)

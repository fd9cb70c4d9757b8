"""The log line for each change of role: elections started, won and lost, with the term and the votes."""

from todonode.node.role_changes import role_change_message
from todonode.raft import Role

F, P, C, L = Role.FOLLOWER, Role.PRE_CANDIDATE, Role.CANDIDATE, Role.LEADER


def test_each_change_of_role_says_what_happened() -> None:
    assert role_change_message((F, "n1", 3), (P, None, 3), (1, 3)).endswith("pre-votes for term 4")
    assert role_change_message((P, None, 3), (C, None, 4), (2, 3)) == "election started: campaigning"
    assert role_change_message((C, None, 4), (L, "n2", 4), (2, 3)) == "election won with 2 of 3 votes"
    assert role_change_message((F, None, 0), (L, "n1", 1), (1, 1)) == "election won with 1 of 1 votes"
    assert role_change_message((C, None, 4), (F, "n3", 4), (1, 3)) == "election lost with 1 of 3 votes"
    assert role_change_message((P, None, 4), (F, None, 4), (1, 3)) == "pre-vote lost with 1 of 3 votes"
    assert role_change_message((L, "n2", 4), (F, None, 5), (2, 3)) == "stepped down"
    assert role_change_message((F, None, 4), (F, "n3", 5), (0, 3)) == "new leader"
    assert role_change_message((F, "n3", 5), (F, None, 5), (0, 3)) == "no leader known"
    # A new campaign in a later term, without a role change in between, is a new election.
    assert role_change_message((C, None, 4), (C, None, 5), (1, 3)) == "election started: campaigning"

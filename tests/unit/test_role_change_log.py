"""The log line for each change of role (elections started, won and lost, with the term and the votes)
and for each vote given or refused, and the events that carry the same facts to the dashboard."""

import pytest

from todonode.events import EventHub
from todonode.node.role_changes import RoleChanges, role_change_message, vote_message
from todonode.observer import NodeObserver
from todonode.raft import (
    ALREADY_VOTED,
    FOLLOWS_LEADER,
    LEADER_LEASE,
    LOG_BEHIND,
    RECOVERING,
    STALE_TERM,
    VOTE_GRANTED,
    Role,
    SoftState,
    VoteDecision,
)

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


# ============================================================================== votes and events


def decision(reason: str, *, granted: bool = False, pre_vote: bool = False) -> VoteDecision:
    return VoteDecision(
        candidate="n2",
        term=5,
        pre_vote=pre_vote,
        granted=granted,
        reason=reason,
        voter_term=4,
        voted_for="n3",
        leader="n1",
        log=(42, 4),
        candidate_log=(41, 4),
    )


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        (LOG_BEHIND, "its log (index 41, term 4) is behind ours (index 42, term 4)"),
        (ALREADY_VOTED, "we already voted for n3 in term 4"),
        (FOLLOWS_LEADER, "we follow n1, leader of term 4"),
        (LEADER_LEASE, "our leader n1 spoke within an election timeout (leader lease: no answer sent)"),
        (STALE_TERM, "we are already in term 4"),
        (RECOVERING, "we lost log entries and take no part in elections until we have them again"),
    ],
)
def test_each_refused_vote_says_which_rule_refused_it(reason: str, why: str) -> None:
    assert vote_message(decision(reason)) == f"refused n2 our vote for term 5: {why}"
    assert vote_message(decision(reason, pre_vote=True)).startswith("refused n2 a pre-vote for term 5: ")


def test_a_granted_vote_says_so() -> None:
    assert vote_message(decision(VOTE_GRANTED, granted=True)) == "granted n2 our vote for term 5"


async def test_role_and_vote_events_carry_what_the_dashboard_tells_elections_with() -> None:
    hub = EventHub()
    sub, _ = hub.subscribe(None)
    changes = RoleChanges("n1", {"n1": "u1", "n2": "u2", "n3": "u3"}, hub, NodeObserver(), lambda: None)
    changes.report(SoftState(P, None, 3), 1)
    changes.report(SoftState(C, None, 4), 1)
    changes.report(SoftState(L, "n1", 4), 2)
    changes.voted((decision(LOG_BEHIND),))
    events = [sub.queue.get_nowait().data for _ in range(sub.queue.qsize())]
    assert [(e["type"], e.get("role"), e.get("was")) for e in events] == [
        ("role", "pre_candidate", "follower"),
        ("role", "candidate", "pre_candidate"),
        ("role", "leader", "candidate"),
        ("vote", None, None),
    ]
    assert "silent_ms" in events[0] and "silent_ms" not in events[1]  # one silence per campaign
    assert (events[2]["votes"], events[2]["voters"]) == (2, 3)
    assert events[3] | {"at": 0} == {
        "type": "vote",
        "node": "n1",
        "candidate": "n2",
        "term": 5,
        "pre_vote": False,
        "granted": False,
        "reason": LOG_BEHIND,
        "voter_term": 4,
        "voted_for": "n3",
        "leader": "n1",
        "log": [42, 4],
        "candidate_log": [41, 4],
        "at": 0,
    }
    assert all(isinstance(e["at"], int) for e in events)

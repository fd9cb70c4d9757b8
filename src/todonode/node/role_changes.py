"""What a change of role, term or leader means, and how this node answered each request for its vote,
told to the log, the metrics and the event stream.

The log line of a role change starts "role R, term T, leader L" because tools read it
(tests/chaos/history.py), then says what happened in words: an election started, won or lost with its
votes, a step down. The ``cluster`` events carry the same facts for the dashboard, which tells each
election from what every node reported (``role`` events, and ``vote`` events with the rule that
decided each vote); ``at`` is the wall-clock time in milliseconds, so reports from several nodes can
be put in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ..events import Event, EventHub
from ..observer import NodeObserver
from ..raft import (
    ALREADY_VOTED,
    FOLLOWS_LEADER,
    LEADER_LEASE,
    LOG_BEHIND,
    RECOVERING,
    STALE_TERM,
    Role,
    SoftState,
    VoteDecision,
)

log = logging.getLogger("todonode.node")

RoleTermLeader = tuple[Role, str | None, int]
CAMPAIGNING = (Role.PRE_CANDIDATE, Role.CANDIDATE)


class RoleChanges:
    def __init__(
        self,
        node_id: str,
        members: dict[str, str],
        events: EventHub,
        observer: NodeObserver,
        last_leader_contact: Callable[[], float | None] = lambda: None,
    ):
        self._id = node_id
        self._members = members
        self._events = events
        self._observer = observer
        self._last_leader_contact = last_leader_contact  # wall time something last came from a leader
        self._started = time.time()
        self._led_until: float | None = None  # when this node last stopped leading
        self._last: RoleTermLeader = (Role.FOLLOWER, None, 0)
        self._next = asyncio.Event()

    def next_change(self) -> asyncio.Event:
        """An event set at the next change of role, term or leader (for waits on an election)."""
        return self._next

    def report(self, soft: SoftState, votes_granted: int) -> None:
        before, after = self._last, (soft.role, soft.leader, soft.term)
        self._last = after
        event = role_change_message(before, after, (votes_granted, len(self._members)))
        log.info(
            "role %s, term %d, leader %s: %s", soft.role.value, soft.term, soft.leader or "unknown", event
        )
        if soft.leader != before[1]:
            self._observer.leader_changed(soft.leader, soft.term)
        now = time.time()
        change = {
            "type": "role",
            "node": self._id,
            "role": soft.role.value,
            "term": soft.term,
            "leader": soft.leader,
            "leader_url": self._members.get(soft.leader or ""),
            "was": before[0].value,
            "votes": votes_granted,
            "voters": len(self._members),
            "at": round(now * 1000),
        }
        if before[0] is Role.LEADER and soft.role is not Role.LEADER:
            self._led_until = now
        if soft.role in CAMPAIGNING and before[0] not in CAMPAIGNING:
            # How long this node went without word from a leader (itself included) before it gave up.
            heard = max(self._last_leader_contact() or 0, self._led_until or 0) or self._started
            change["silent_ms"] = round((now - heard) * 1000)
        self._events.publish(Event("cluster", change))
        self._next.set()
        self._next = asyncio.Event()

    def voted(self, decisions: tuple[VoteDecision, ...]) -> None:
        """How this node answered requests for its vote (reported once they are durable)."""
        now = round(time.time() * 1000)
        for d in decisions:
            log.info("%s", vote_message(d))
            self._events.publish(
                Event(
                    "cluster",
                    {
                        "type": "vote",
                        "node": self._id,
                        "candidate": d.candidate,
                        "term": d.term,
                        "pre_vote": d.pre_vote,
                        "granted": d.granted,
                        "reason": d.reason,
                        "voter_term": d.voter_term,
                        "voted_for": d.voted_for,
                        "leader": d.leader,
                        "log": list(d.log),
                        "candidate_log": list(d.candidate_log),
                        "at": now,
                    },
                )
            )


def role_change_message(before: RoleTermLeader, after: RoleTermLeader, votes: tuple[int, int]) -> str:
    """What a change of role, leader or term means, for the log: an election started, won or lost (with
    the votes, granted of members, of this node's latest campaign), a step down, a new leader."""
    (was, _, _), (role, leader, term) = before, after
    granted, members = votes
    campaigning = (Role.PRE_CANDIDATE, Role.CANDIDATE)
    if role is Role.LEADER and was is not Role.LEADER:
        return f"election won with {granted} of {members} votes"
    if role is Role.CANDIDATE and (was is not Role.CANDIDATE or before[2] != term):
        return "election started: campaigning"
    if role is Role.PRE_CANDIDATE and was is not Role.PRE_CANDIDATE:
        return f"election started: no leader heard from, asking for pre-votes for term {term + 1}"
    if was in campaigning and role is Role.FOLLOWER:
        stage = "pre-vote" if was is Role.PRE_CANDIDATE else "election"
        return f"{stage} lost with {granted} of {members} votes"
    if was is Role.LEADER and role is not Role.LEADER:
        return "stepped down"
    return "new leader" if leader else "no leader known"


_REFUSED_BECAUSE = {
    LOG_BEHIND: "its log (index {c[0]}, term {c[1]}) is behind ours (index {v[0]}, term {v[1]})",
    ALREADY_VOTED: "we already voted for {d.voted_for} in term {d.voter_term}",
    FOLLOWS_LEADER: "we follow {d.leader}, leader of term {d.voter_term}",
    LEADER_LEASE: "our leader {d.leader} spoke within an election timeout (leader lease: no answer sent)",
    STALE_TERM: "we are already in term {d.voter_term}",
    RECOVERING: "we lost log entries and take no part in elections until we have them again",
}


def vote_message(d: VoteDecision) -> str:
    """How a request for this node's vote was answered, for the log."""
    kind = "a pre-vote" if d.pre_vote else "our vote"
    if d.granted:
        return f"granted {d.candidate} {kind} for term {d.term}"
    why = _REFUSED_BECAUSE.get(d.reason, d.reason).format(d=d, c=d.candidate_log, v=d.log)
    return f"refused {d.candidate} {kind} for term {d.term}: {why}"

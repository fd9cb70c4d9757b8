"""What a change of role, term or leader means, told to the log, the metrics and the event stream.

The log line starts "role R, term T, leader L" because tools read it (tests/chaos/history.py), then
says what happened in words: an election started, won or lost with its votes, a step down.
"""

from __future__ import annotations

import asyncio
import logging

from ..events import Event, EventHub
from ..observer import NodeObserver
from ..raft import Role, SoftState

log = logging.getLogger("todonode.node")

RoleTermLeader = tuple[Role, str | None, int]


class RoleChanges:
    def __init__(self, node_id: str, members: dict[str, str], events: EventHub, observer: NodeObserver):
        self._id = node_id
        self._members = members
        self._events = events
        self._observer = observer
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
        self._events.publish(
            Event(
                "cluster",
                {
                    "type": "role",
                    "node": self._id,
                    "role": soft.role.value,
                    "term": soft.term,
                    "leader": soft.leader,
                    "leader_url": self._members.get(soft.leader or ""),
                },
            )
        )
        self._next.set()
        self._next = asyncio.Event()


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

"""The live event stream behind ``GET /events``: task changes and cluster changes, fanned out to
subscribers, with a bounded history so a reconnecting client can resume from ``Last-Event-ID``.

Task events carry the log index that produced them as their id, so "resume after index N" means the
same thing on every node. Cluster events (role, term, leader, peers up and down) describe this node's
view and are not replayed.

Each event is encoded as a Server-Sent Events frame once, when the first subscriber needs it; every
other subscriber, and every client that resumes from the history, writes those same bytes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

PUBLISH_BATCH = 1000


@dataclass(frozen=True)  # not slotted: the frame is cached on the instance
class Event:
    kind: str  # "task", "cluster" or "reset"
    data: dict[str, Any]
    id: int | None = None  # the log index, for task events

    @cached_property
    def frame(self) -> bytes:
        """The event as one SSE frame: ``event:``, ``id:`` for task events, and the data as JSON."""
        head = f"event: {self.kind}\n" + (f"id: {self.id}\n" if self.id is not None else "")
        return head.encode() + b"data: " + orjson.dumps(self.data) + b"\n\n"


@dataclass(eq=False)  # identity semantics: subscriptions live in a set
class Subscription:
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(maxsize=10_000))
    overflowed: bool = False


class EventHub:
    def __init__(self, history: int = 10_000):
        self._history: deque[Event] = deque(maxlen=history)
        self._subscribers: set[Subscription] = set()
        # Every task event with an id above this is in the history. It starts at the index the node
        # restored from disk (earlier events were never seen here) and rises as old events drop off.
        self.complete_after = 0

    def publish(self, event: Event) -> None:
        if event.kind == "task":
            if len(self._history) == self._history.maxlen:
                self.complete_after = self._history[0].id or self.complete_after
            self._history.append(event)
        for sub in self._subscribers:
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                # A client too slow to keep up is told to reload rather than make the node hold an
                # unbounded backlog for it.
                sub.overflowed = True

    async def publish_many(self, events: Iterable[Event]) -> None:
        """Publish ``events`` in order, giving the event loop a turn every PUBLISH_BATCH of them: one
        write that changes every task (delete all, mark all done) makes an event per task, and 100,000
        of them at once would hold up the loop, heartbeats included, for a fifth of a second."""
        for n, event in enumerate(events, 1):
            self.publish(event)
            if n % PUBLISH_BATCH == 0:
                await asyncio.sleep(0)

    def subscribe(self, last_event_id: int | None) -> tuple[Subscription, list[Event]]:
        """A new subscription, and what to send first: the task events after ``last_event_id``, or a
        ``reset`` event when the history no longer reaches back that far."""
        sub = Subscription()
        self._subscribers.add(sub)
        if last_event_id is None:
            return sub, []
        if last_event_id < self.complete_after:
            return sub, [
                Event("reset", {"reason": "history_unavailable", "complete_after": self.complete_after})
            ]
        return sub, [e for e in self._history if e.id is not None and e.id > last_event_id]

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

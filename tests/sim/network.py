"""A simulated network: delay, loss, duplication, reordering and partitions, all from one seeded RNG.

Each directed link is FIFO, like the keep-alive connection a node keeps to each peer, except that a
``reorder_rate`` share of messages take their own random delay and may overtake earlier ones (a
retried or concurrent request). Duplicates are delivered independently. A partition is a set of
blocked directed links, so it can be asymmetric (a hears b, b does not hear a) or leave a "bridge"
node that still sees both sides.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from todonode.raft import Message


@dataclass
class NetworkConditions:
    min_delay_ms: float = 0.5
    max_delay_ms: float = 15.0
    slow_delay_ms: float = 300.0  # a few messages are this slow: long enough to arrive in a later term
    slow_rate: float = 0.01
    loss_rate: float = 0.0
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.02


@dataclass(order=True)
class _InFlight:
    deliver_at: float
    seq: int
    msg: Message = field(compare=False)


class SimNetwork:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.conditions = NetworkConditions()
        self.blocked: set[tuple[str, str]] = set()
        self._queue: list[_InFlight] = []
        self._link_tail: dict[tuple[str, str], float] = {}  # last delivery time on each link
        self._seq = 0
        self.sent = 0
        self.dropped = 0

    def send(self, msg: Message, now: float) -> None:
        self.sent += 1
        c = self.conditions
        if (msg.src, msg.dst) in self.blocked or self.rng.random() < c.loss_rate:
            self.dropped += 1
            return
        link = (msg.src, msg.dst)
        at = now + self._delay()
        if self.rng.random() >= c.reorder_rate:
            at = max(at, self._link_tail.get(link, 0.0) + 0.001)
            self._link_tail[link] = at
        self._push(msg, at)
        if self.rng.random() < c.duplicate_rate:
            self._push(msg, now + self._delay())

    def _delay(self) -> float:
        c = self.conditions
        if self.rng.random() < c.slow_rate:
            return self.rng.uniform(c.max_delay_ms, c.slow_delay_ms)
        return self.rng.uniform(c.min_delay_ms, c.max_delay_ms)

    def _push(self, msg: Message, at: float) -> None:
        self._seq += 1
        heapq.heappush(self._queue, _InFlight(at, self._seq, msg))

    def next_time(self) -> float | None:
        return self._queue[0].deliver_at if self._queue else None

    def pop_due(self) -> Message:
        """The next message in delivery order. A link cut while it was in flight swallows it."""
        item = heapq.heappop(self._queue)
        if (item.msg.src, item.msg.dst) in self.blocked:
            self.dropped += 1
            return None  # type: ignore[return-value]
        return item.msg

    def hold(self, msg: Message, at: float) -> None:
        """Put a message back, to be delivered at ``at`` (a paused receiver reads it later)."""
        self._push(msg, at)

    # ---------------------------------------------------------------------------------- partitions

    def isolate(self, groups: list[list[str]]) -> None:
        """Only nodes in the same group can talk."""
        self.blocked = {(a, b) for g1 in groups for g2 in groups if g1 is not g2 for a in g1 for b in g2}

    def cut_one_way(self, src: str, dst: str) -> None:
        self.blocked.add((src, dst))

    def heal(self) -> None:
        self.blocked = set()

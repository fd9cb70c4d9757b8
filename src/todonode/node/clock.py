"""The node's clock: the core knows time only as ticks, and this coroutine gives it one every
``cluster.tick_ms``. Each tick also lets the transport probe idle links, and wakes the Ready loop
when the tick gave the core something to do (an election, a heartbeat); most ticks give it nothing,
and a wake costs a turn of the Ready loop, a hundred times a second on every node.

When the event loop was blocked for many ticks, followers elsewhere may already be electing a new
leader: the clock says so in the log, and does not make up for the lost time with a burst of ticks.
The core has then had fewer ticks than real time calls for, and a read lease counted in ticks
(raft/lease.py) would outlast the voters' patience: the lease is expired. Short delays are made up
tick by tick, but until they are, ``TickClock.behind`` tells a reader the ticks are late.
"""

from __future__ import annotations

import asyncio
import logging

from ..raft import RaftNode
from ..transport import PeerTransport
from .ready_loop import ReadyLoop

log = logging.getLogger("todonode.node")

BLOCKED_AFTER_TICKS = 10


class TickClock:
    """When the core's next tick is due, so that a reader can tell whether ticks have fallen behind."""

    def __init__(self, tick_ms: int, slack_ms: float) -> None:
        self.interval = tick_ms / 1000
        self._slack = slack_ms / 1000
        self.due: float | None = None  # when the next tick is due (loop time); None before the first

    def behind(self) -> bool:
        """Whether the core is missing ticks worth more than the slack."""
        return self.due is not None and asyncio.get_running_loop().time() - self.due > self._slack


async def tick_forever(
    clock: TickClock, core: RaftNode, transport: PeerTransport, ready_loop: ReadyLoop
) -> None:
    loop = asyncio.get_running_loop()
    interval = clock.interval
    clock.due = loop.time() + interval
    while True:
        await asyncio.sleep(max(0.0, clock.due - loop.time()))
        lag = loop.time() - clock.due
        if lag > interval * BLOCKED_AFTER_TICKS:
            log.warning("event loop blocked for %.0f ms", lag * 1000)
            core.expire_lease()
            clock.due = loop.time()
        core.tick()
        clock.due += interval
        transport.poll()
        if core.has_ready():
            ready_loop.wake()

"""The node's clock: the core knows time only as ticks, and this coroutine gives it one every
``cluster.tick_ms``. Each tick also lets the transport probe idle links, and wakes the Ready loop,
since a tick may start an election or a heartbeat.

When the event loop was blocked for many ticks, followers elsewhere may already be electing a new
leader: the clock says so in the log, and does not make up for the lost time with a burst of ticks.
"""

from __future__ import annotations

import asyncio
import logging

from ..raft import RaftNode
from ..transport import PeerTransport
from .ready_loop import ReadyLoop

log = logging.getLogger("todonode.node")

BLOCKED_AFTER_TICKS = 10


async def tick_forever(core: RaftNode, transport: PeerTransport, ready_loop: ReadyLoop, tick_ms: int) -> None:
    loop = asyncio.get_running_loop()
    interval = tick_ms / 1000
    due = loop.time()
    while True:
        due += interval
        await asyncio.sleep(max(0.0, due - loop.time()))
        lag = loop.time() - due
        if lag > interval * BLOCKED_AFTER_TICKS:
            log.warning("event loop blocked for %.0f ms", lag * 1000)
            due = loop.time()
        core.tick()
        transport.poll()
        ready_loop.wake()

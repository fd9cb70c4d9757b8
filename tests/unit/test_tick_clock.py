"""The node's clock tells when the core's ticks have fallen behind real time (node/clock.py), so a read
lease counted in ticks is not trusted then (raft/lease.py)."""

from __future__ import annotations

import asyncio

from todonode.node.clock import TickClock


async def test_ticks_are_behind_once_the_next_one_is_late_by_more_than_the_slack() -> None:
    clock = TickClock(tick_ms=10, slack_ms=50)
    assert not clock.behind()  # no tick due yet: the clock has not started
    now = asyncio.get_running_loop().time()
    clock.due = now + 0.01
    assert not clock.behind()
    clock.due = now - 0.03  # late, within the slack
    assert not clock.behind()
    clock.due = now - 0.2
    assert clock.behind()

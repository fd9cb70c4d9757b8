"""The node's clock tells when the core's ticks have fallen behind real time (node/clock.py), so a read
lease counted in ticks is not trusted then (raft/lease.py)."""

from __future__ import annotations

import asyncio

from todonode.deadline import Deadline
from todonode.node.clock import TickClock, tick_forever


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


class _Core:
    """Has work after every third tick, as a follower's core has a heartbeat to answer now and then."""

    def __init__(self) -> None:
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1

    def has_ready(self) -> bool:
        return self.ticks % 3 == 0

    def expire_lease(self) -> None:
        pass


class _Transport:
    def poll(self) -> None:
        pass


class _ReadyLoop:
    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


async def test_a_tick_wakes_the_ready_loop_only_when_it_gave_the_core_something_to_do() -> None:
    core, ready_loop = _Core(), _ReadyLoop()
    ticking = asyncio.create_task(
        tick_forever(TickClock(tick_ms=1, slack_ms=50), core, _Transport(), ready_loop)
    )  # type: ignore[arg-type]
    deadline = Deadline(5)
    while core.ticks < 30 and not deadline.expired:
        await asyncio.sleep(0.005)
    ticking.cancel()
    assert core.ticks >= 30, "the clock did not tick"
    assert ready_loop.wakes == core.ticks // 3

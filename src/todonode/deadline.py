"""The one way todonode bounds a wait: a ``Deadline`` made where the bound is decided and passed down.

A request that may wait for an election (a write, a strong read) gets one deadline when it arrives,
and every step below it — waiting for a leader, forwarding to it, retrying after a failover — spends
from that same deadline instead of starting a clock of its own. So a timeout is changed in one place,
and nested waits can never add up to more than the bound the client was promised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class Deadline:
    """A moment on the monotonic clock by which a wait must end."""

    __slots__ = ("at",)

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.at

    async def run(self, awaitable: Awaitable[T]) -> T:
        """``awaitable``'s result, or TimeoutError once the deadline passes (the awaitable is cancelled)."""
        async with asyncio.timeout_at(self._loop_time()):
            return await awaitable

    async def wait(self, event: asyncio.Event) -> bool:
        """Wait for ``event`` until the deadline; True if it was set."""
        try:
            await self.run(event.wait())
        except TimeoutError:
            return event.is_set()
        return True

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the deadline comes first."""
        await asyncio.sleep(min(seconds, self.remaining()))

    def _loop_time(self) -> float:
        # The event loop's clock is time.monotonic on every loop todonode runs on, but convert anyway.
        loop = asyncio.get_running_loop()
        return loop.time() + (self.at - time.monotonic())

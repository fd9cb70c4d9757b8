"""Who is waiting for what: a write for its entry to be applied, a read for its read index, a reader
for an applied index. The Ready loop settles them; the facade adds them. Everything here runs on the
event loop, and every waiter leaves its table when it is settled or when its wait gives up, so a
client that asks for something that never comes costs nothing once it has gone.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass
from typing import Any

from ..errors import ApiError, Unavailable


@dataclass(slots=True)
class _Proposal:
    term: int
    future: asyncio.Future[Any]


class Proposals:
    """Writes proposed on this node, by log index. Each settles when its index is applied: with the
    result if the applied entry is the one proposed (same term), with an error if another leader's
    entry took the index."""

    def __init__(self) -> None:
        self._by_index: dict[int, _Proposal] = {}

    def __len__(self) -> int:
        return len(self._by_index)

    def add(self, index: int, term: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._by_index[index] = _Proposal(term, future)
        return future

    def settle(self, index: int, term: int, result: Any) -> None:
        """The entry at ``index`` of ``term`` was applied with ``result``."""
        waiter = self._by_index.pop(index, None)
        if waiter is None or waiter.future.done():
            return  # a timed-out or departed client cancelled its wait
        if waiter.term == term:
            waiter.future.set_result(result)
        else:
            # Another leader's entry took this index: ours was never committed.
            lost = Unavailable("leadership changed before the write committed; retry it", retry_after=0.5)
            waiter.future.set_exception(lost)

    def fail_through(self, index: int, error: ApiError) -> None:
        """Every write at ``index`` or below ends with ``error`` (a snapshot replaced them)."""
        for i in [i for i in self._by_index if i <= index]:
            _fail(self._by_index.pop(i).future, error)

    def fail_all(self, error: ApiError) -> None:
        for waiter in self._by_index.values():
            _fail(waiter.future, error)
        self._by_index.clear()


class ReadWaiters:
    """Linearizable reads waiting for the core to confirm a read index, by their context id."""

    def __init__(self) -> None:
        self._by_ctx: dict[str, asyncio.Future[int]] = {}

    def add(self, ctx: str) -> asyncio.Future[int]:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._by_ctx[ctx] = future
        return future

    def resolve(self, ctx: str, index: int) -> None:
        future = self._by_ctx.pop(ctx, None)
        if future is not None and not future.done():
            future.set_result(index)

    def fail(self, ctx: str, error: ApiError) -> None:
        future = self._by_ctx.pop(ctx, None)
        if future is not None:
            _fail(future, error)

    def discard(self, ctx: str) -> None:
        self._by_ctx.pop(ctx, None)


class AppliedWaiters:
    """Readers waiting until this node has applied an index (``?min_index=``, a forwarded write that
    waits to read its own result here). A heap by index, so releasing costs only the waiters released.

    A waiter that gives up is marked, not searched for; once marked ones outnumber the live ones, the
    heap is rebuilt without them. An index that is never reached therefore leaves nothing behind.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()  # ties on the index never compare futures
        self._abandoned = 0

    def __len__(self) -> int:
        return len(self._heap) - self._abandoned

    async def wait(self, index: int, applied: int, timeout: float) -> bool:
        """Wait until ``index`` is applied (``applied`` is how far it is now); False after ``timeout``."""
        if applied >= index:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (index, next(self._order), future))
        try:
            async with asyncio.timeout(timeout):
                # Shielded: only this method cancels the future, and it counts what it cancels.
                await asyncio.shield(future)
            return True
        except TimeoutError:
            return False
        finally:
            if not future.done():
                future.cancel()
                self._abandon()

    def release(self, applied: int) -> None:
        """Wake every waiter for ``applied`` or below."""
        heap = self._heap
        while heap and heap[0][0] <= applied:
            future = heapq.heappop(heap)[2]
            if future.done():
                self._abandoned -= 1
            else:
                future.set_result(None)

    def _abandon(self) -> None:
        self._abandoned += 1
        if self._abandoned * 2 > len(self._heap):
            self._heap = [w for w in self._heap if not w[2].done()]
            heapq.heapify(self._heap)
            self._abandoned = 0


def _fail(future: asyncio.Future[Any], error: ApiError) -> None:
    if not future.done():
        future.set_exception(error)

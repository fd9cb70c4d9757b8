"""Who waits for what (node/waiters.py): every waiter is settled once, and one that gives up leaves
nothing behind."""

from __future__ import annotations

import asyncio

import pytest

from todonode.errors import Unavailable
from todonode.node.waiters import AppliedWaiters, Proposals, ReadWaiters


async def test_a_reader_waiting_for_an_index_wakes_when_it_is_applied():
    waiters = AppliedWaiters()
    early = asyncio.create_task(waiters.wait(5, applied=3, timeout=5))
    late = asyncio.create_task(waiters.wait(9, applied=3, timeout=5))
    await asyncio.sleep(0)
    waiters.release(5)
    assert await early is True
    assert not late.done()
    waiters.release(9)
    assert await late is True
    assert len(waiters) == 0


async def test_an_index_already_applied_needs_no_wait():
    waiters = AppliedWaiters()
    assert await waiters.wait(3, applied=3, timeout=0) is True
    assert len(waiters) == 0


async def test_waiters_for_an_index_never_reached_leave_nothing_behind():
    """A client asking for ?min_index= far in the future must not cost memory once it has gone."""
    waiters = AppliedWaiters()
    results = await asyncio.gather(*(waiters.wait(10**17, applied=1, timeout=0.001) for _ in range(2000)))
    assert results == [False] * 2000
    assert len(waiters) == 0
    assert len(waiters._heap) <= 1  # abandoned entries are swept as they outnumber live ones


async def test_a_cancelled_wait_is_swept_too_and_the_rest_still_wake():
    waiters = AppliedWaiters()
    kept = asyncio.create_task(waiters.wait(7, applied=0, timeout=5))
    gone = [asyncio.create_task(waiters.wait(8, applied=0, timeout=5)) for _ in range(10)]
    await asyncio.sleep(0)
    for task in gone:
        task.cancel()
    await asyncio.gather(*gone, return_exceptions=True)
    assert len(waiters) == 1
    waiters.release(8)
    assert await kept is True
    assert len(waiters) == 0


async def test_a_write_gets_its_result_only_if_its_own_entry_was_applied():
    proposals = Proposals()
    ours = proposals.add(4, term=2)
    taken = proposals.add(5, term=2)
    proposals.settle(4, 2, "applied")
    proposals.settle(5, 3, "another leader's entry")
    assert await ours == "applied"
    with pytest.raises(Unavailable):
        await taken
    assert len(proposals) == 0


async def test_writes_replaced_by_a_snapshot_fail_and_later_ones_wait_on():
    proposals = Proposals()
    covered, later = proposals.add(3, term=1), proposals.add(9, term=1)
    proposals.fail_through(5, Unavailable("replaced"))
    with pytest.raises(Unavailable):
        await covered
    assert not later.done() and len(proposals) == 1


async def test_a_read_index_is_delivered_once_and_a_failed_read_raises():
    reads = ReadWaiters()
    ok, failed = reads.add("a"), reads.add("b")
    reads.resolve("a", 12)
    reads.resolve("a", 99)  # a duplicate answer changes nothing
    reads.fail("b", Unavailable("leader changed"))
    assert await ok == 12
    with pytest.raises(Unavailable):
        await failed

"""The event hub: many events from one write are published in order, and the event loop gets its turn
between batches of them."""

from __future__ import annotations

import asyncio

from todonode.events import PUBLISH_BATCH, Event, EventHub


async def test_a_write_with_many_events_lets_the_loop_turn_and_keeps_their_order() -> None:
    hub = EventHub()
    subscription, _ = hub.subscribe(None)
    turns = 0

    async def other_work() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.ensure_future(other_work())
    await asyncio.sleep(0)
    count = 3 * PUBLISH_BATCH + 1
    before = turns
    await hub.publish_many(Event("task", {"n": n}, n) for n in range(1, count + 1))
    other.cancel()
    assert turns - before >= 3, "the loop ran other work between batches"
    received = [subscription.queue.get_nowait().id for _ in range(count)]
    assert received == list(range(1, count + 1))

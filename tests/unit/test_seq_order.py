"""The seq order behind paging: a cursor finds its place by bisection, and removals of any number of
tasks, one at a time or all at once, leave exactly the live tasks, newest first."""

from __future__ import annotations

import random

import pytest

from todonode.seq_order import SeqOrder


def listed(order: SeqOrder, cursor: int | None = None) -> list[int]:
    return [seq for seq, _ in order.below(cursor)]


def test_below_a_cursor_is_every_smaller_seq_newest_first() -> None:
    order = SeqOrder([(3, "c"), (1, "a"), (2, "b")])
    order.add(7, "g")
    assert list(order.below(None)) == [(7, "g"), (3, "c"), (2, "b"), (1, "a")]
    assert listed(order, 7) == [3, 2, 1]
    assert listed(order, 5) == [3, 2, 1]
    assert listed(order, 1) == []
    assert listed(order, 100) == [7, 3, 2, 1]


def test_removals_in_any_order_and_number_leave_the_live_seqs() -> None:
    rng = random.Random(7)
    order = SeqOrder()
    live: set[int] = set()
    for seq in range(1, 2001):
        order.add(seq, f"t{seq}")
        live.add(seq)
        if rng.random() < 0.6:
            gone = rng.choice(sorted(live))
            order.remove(gone)
            live.discard(gone)
    assert listed(order) == sorted(live, reverse=True)
    cursor = sorted(live)[len(live) // 2]
    assert listed(order, cursor) == sorted((s for s in live if s < cursor), reverse=True)
    for seq in sorted(live):
        order.remove(seq)
    assert listed(order) == []
    order.add(5000, "new")
    assert listed(order) == [5000]


def test_clear_forgets_everything() -> None:
    order = SeqOrder((n, str(n)) for n in range(1, 10))
    order.clear()
    assert listed(order) == []


def test_removing_a_seq_that_is_not_live_is_refused() -> None:
    order = SeqOrder([(1, "a"), (3, "c")])
    order.remove(3)
    for seq in (2, 3, 9):
        with pytest.raises(KeyError):
            order.remove(seq)
    assert list(order.below(None)) == [(1, "a")]

"""The seq order behind paging: a cursor finds its place by bisection, and removals of any number of
tasks, one at a time or all at once, leave exactly the live tasks, newest first; a task that changes
takes its predecessor's place."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from todonode.seq_order import SeqOrder


@dataclass(frozen=True, slots=True)
class Item:
    seq: int
    name: str = ""


def listed(order: SeqOrder[Item], cursor: int | None = None) -> list[int]:
    return [item.seq for item in order.below(cursor)]


def test_below_a_cursor_is_every_smaller_seq_newest_first() -> None:
    order = SeqOrder([Item(3, "c"), Item(1, "a"), Item(2, "b")])
    order.add(Item(7, "g"))
    assert list(order.below(None)) == [Item(7, "g"), Item(3, "c"), Item(2, "b"), Item(1, "a")]
    assert listed(order, 7) == [3, 2, 1]
    assert listed(order, 5) == [3, 2, 1]
    assert listed(order, 1) == []
    assert listed(order, 100) == [7, 3, 2, 1]


def test_removals_in_any_order_and_number_leave_the_live_seqs() -> None:
    rng = random.Random(7)
    order: SeqOrder[Item] = SeqOrder()
    live: set[int] = set()
    for seq in range(1, 2001):
        order.add(Item(seq))
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
    order.add(Item(5000))
    assert listed(order) == [5000]


def test_a_replaced_task_is_listed_in_its_place_and_the_old_one_nowhere() -> None:
    rng = random.Random(11)
    order: SeqOrder[Item] = SeqOrder(Item(seq) for seq in range(1, 501))
    current = {seq: Item(seq) for seq in range(1, 501)}
    for round_ in range(1, 1001):  # about 300 removals of the 500
        seq = rng.choice(sorted(current))
        if rng.random() < 0.3:
            order.remove(seq)
            del current[seq]
        else:
            current[seq] = Item(seq, f"v{round_}")
            order.replace(current[seq])
    assert list(order.below(None)) == [current[seq] for seq in sorted(current, reverse=True)]


def test_clear_forgets_everything() -> None:
    order = SeqOrder(Item(n) for n in range(1, 10))
    order.clear()
    assert listed(order) == []


def test_removing_or_replacing_a_seq_that_is_not_live_is_refused() -> None:
    order = SeqOrder([Item(1, "a"), Item(3, "c")])
    order.remove(3)
    for seq in (2, 3, 9):
        with pytest.raises(KeyError):
            order.remove(seq)
        with pytest.raises(KeyError):
            order.replace(Item(seq, "new"))
    assert list(order.below(None)) == [Item(1, "a")]

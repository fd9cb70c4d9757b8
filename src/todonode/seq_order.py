"""The task list in ``seq`` order, for paging: where a cursor falls is found by bisection, so a page
deep in a long list costs what its own tasks cost, not a walk past every newer task.

Derived from the task state and never stored (``state.TaskState`` keeps it in step): pure, no I/O.
One list of the tasks themselves, ascending by seq: 8 bytes a task, where a list of seqs beside a
list of ids took 16 (docs/performance.md#where-the-memory-goes). A task that changes is a new
record with the same seq, put in its predecessor's place. Removing a
task finds its seq by bisection and leaves a marker that keeps only the seq; the markers are skipped
while walking and dropped once they are half of the list, so a removal costs O(log n) amortised
whether one task goes or every task does.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from operator import attrgetter
from typing import Generic, Protocol, TypeVar

_SEQ = attrgetter("seq")  # a key bisect calls without leaving C


class Numbered(Protocol):
    @property
    def seq(self) -> int: ...


T = TypeVar("T", bound=Numbered)


class _Removed:
    """Where a removed task was: its seq, for bisection, and nothing else."""

    __slots__ = ("seq",)

    def __init__(self, seq: int) -> None:
        self.seq = seq


class SeqOrder(Generic[T]):
    def __init__(self, items: Iterable[T] = ()) -> None:
        self._items: list[T | _Removed] = list(items)
        # The task state hands them over in creation order, already ascending: sorting them then
        # costs one pass that finds them in order.
        self._items.sort(key=_SEQ)
        self._removed = 0

    def add(self, item: T) -> None:
        """A new task; its seq is above every seq added before (seqs only grow)."""
        self._items.append(item)

    def replace(self, item: T) -> None:
        """``item`` in place of the live task of the same seq; KeyError if there is none."""
        self._items[self._live(item.seq)] = item

    def remove(self, seq: int) -> None:
        """Forget ``seq``; KeyError if it is not a live one."""
        self._items[self._live(seq)] = _Removed(seq)
        self._removed += 1
        if self._removed * 2 > len(self._items):
            self._items = [item for item in self._items if not isinstance(item, _Removed)]
            self._removed = 0

    def clear(self) -> None:
        self._items.clear()
        self._removed = 0

    def below(self, cursor: int | None) -> Iterator[T]:
        """Every task with a seq below ``cursor`` (all of them for None), newest first."""
        items = self._items
        position = len(items) if cursor is None else bisect_left(items, cursor, key=_SEQ)
        for i in range(position - 1, -1, -1):
            item = items[i]
            if not isinstance(item, _Removed):
                yield item

    def _live(self, seq: int) -> int:
        position = bisect_left(self._items, seq, key=_SEQ)
        if position == len(self._items) or self._items[position].seq != seq:
            raise KeyError(seq)
        if isinstance(self._items[position], _Removed):
            raise KeyError(seq)
        return position

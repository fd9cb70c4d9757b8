"""The task list in ``seq`` order, for paging: where a cursor falls is found by bisection, so a page
deep in a long list costs what its own tasks cost, not a walk past every newer task.

Derived from the task state and never stored (``state.TaskState`` keeps it in step): pure, no I/O.
Removing a task only forgets its seq; the positions it leaves behind are skipped while walking and
dropped once they are half of the list, so a removal costs O(1) amortised whether one task goes or
every task does.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator


class SeqOrder:
    def __init__(self, seqs: Iterable[tuple[int, str]] = ()) -> None:
        self._ids: dict[int, str] = dict(seqs)  # live seq -> task id
        self._seqs: list[int] = sorted(self._ids)  # ascending; may hold seqs removed since
        self._removed = 0

    def add(self, seq: int, task_id: str) -> None:
        """A new task; its seq is above every seq added before (seqs only grow)."""
        self._ids[seq] = task_id
        self._seqs.append(seq)

    def remove(self, seq: int) -> None:
        del self._ids[seq]
        self._removed += 1
        if self._removed * 2 > len(self._seqs):
            self._seqs = [s for s in self._seqs if s in self._ids]
            self._removed = 0

    def clear(self) -> None:
        self._ids.clear()
        self._seqs.clear()
        self._removed = 0

    def below(self, cursor: int | None) -> Iterator[tuple[int, str]]:
        """(seq, id) of every task with a seq below ``cursor`` (all of them for None), newest first."""
        seqs, ids = self._seqs, self._ids
        position = len(seqs) if cursor is None else bisect_left(seqs, cursor)
        for i in range(position - 1, -1, -1):
            task_id = ids.get(seqs[i])
            if task_id is not None:
                yield seqs[i], task_id

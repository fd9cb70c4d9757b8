"""The task list in ``seq`` order, for paging: where a cursor falls is found by bisection, so a page
deep in a long list costs what its own tasks cost, not a walk past every newer task.

Derived from the task state and never stored (``state.TaskState`` keeps it in step): pure, no I/O.
Two lists side by side, seqs ascending and the id of each: 16 bytes a task (the seq and the id are
the task's own objects), where a dict from seq to id beside a list of seqs took about 60
(docs/performance.md#where-the-memory-goes). Removing a task finds its seq by bisection and blanks
its id; the blanks are skipped while walking and dropped once they are half of the list, so a
removal costs O(log n) amortised whether one task goes or every task does.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator


class SeqOrder:
    def __init__(self, seqs: Iterable[tuple[int, str]] = ()) -> None:
        self._seqs: list[int] = []  # ascending; may hold seqs removed since
        self._ids: list[str | None] = []  # the id at each seq; None: removed
        self._removed = 0
        for seq, task_id in seqs:
            self._seqs.append(seq)
            self._ids.append(task_id)
        # The task state hands them over in creation order, already ascending: then nothing is sorted.
        if self._seqs != sorted(self._seqs):
            pairs = sorted(zip(self._seqs, self._ids, strict=True))
            self._seqs = [seq for seq, _ in pairs]
            self._ids = [task_id for _, task_id in pairs]

    def add(self, seq: int, task_id: str) -> None:
        """A new task; its seq is above every seq added before (seqs only grow)."""
        self._seqs.append(seq)
        self._ids.append(task_id)

    def remove(self, seq: int) -> None:
        """Forget ``seq``; KeyError if it is not a live one."""
        position = bisect_left(self._seqs, seq)
        if position == len(self._seqs) or self._seqs[position] != seq or self._ids[position] is None:
            raise KeyError(seq)
        self._ids[position] = None
        self._removed += 1
        if self._removed * 2 > len(self._seqs):
            live = [i for i, task_id in enumerate(self._ids) if task_id is not None]
            self._seqs = [self._seqs[i] for i in live]
            self._ids = [self._ids[i] for i in live]
            self._removed = 0

    def clear(self) -> None:
        self._seqs.clear()
        self._ids.clear()
        self._removed = 0

    def below(self, cursor: int | None) -> Iterator[tuple[int, str]]:
        """(seq, id) of every task with a seq below ``cursor`` (all of them for None), newest first."""
        seqs, ids = self._seqs, self._ids
        position = len(seqs) if cursor is None else bisect_left(seqs, cursor)
        for i in range(position - 1, -1, -1):
            task_id = ids[i]
            if task_id is not None:
                yield seqs[i], task_id

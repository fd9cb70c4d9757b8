"""Quotas on the size of the task list: ``storage.max_tasks`` and ``storage.max_bytes`` (config.py).

A write that would take the list past either is refused with 507 ``quota_exceeded``, before it is
proposed: on the node that receives it, and again on the leader when forwarded. Like the title and
batch limits, a quota is policy and never part of the state machine (state.py): nodes configured with
different quotas must still agree on every entry already in the log. Writes racing past the check
together may take the list a little over; from then on every write that is not a delete is refused
until tasks are deleted. Deletes never are: they are how a full list gets room again. ``/metrics``
raises the alarm (``todonode_quota_alarm``) as soon as there is no room left.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .config import StorageSection
from .errors import QuotaExceeded
from .state import TASK_OVERHEAD_BYTES, TaskState


@dataclass(frozen=True, slots=True)
class Growth:
    """What a write may add to the list, at most."""

    tasks: int = 0
    bytes: int = 0

    @classmethod
    def new_tasks(cls, titles: Iterable[str]) -> Growth:
        sizes = [TASK_OVERHEAD_BYTES + len(title.encode()) for title in titles]
        return cls(len(sizes), sum(sizes))

    @classmethod
    def changes(cls, changes: dict[str, object]) -> Growth:
        """An update: a new title may be longer than the old one, by at most its own length."""
        title = changes.get("title")
        return cls(bytes=len(title.encode()) if isinstance(title, str) else 0)


@dataclass(frozen=True, slots=True)
class Usage:
    """How full the list is, against its quotas."""

    tasks: int
    bytes: int
    max_tasks: int
    max_bytes: int
    idempotency_bytes: int  # of ``bytes``

    @classmethod
    def of(cls, state: TaskState, storage: StorageSection) -> Usage:
        return cls(
            state.counts()["total"],
            state.size_bytes,
            storage.max_tasks,
            storage.max_bytes,
            state.idempotency_bytes,
        )

    def full(self) -> dict[str, bool]:
        """Each quota, and whether it leaves no room (the /metrics alarm)."""
        return {"tasks": self.tasks >= self.max_tasks, "bytes": self.bytes >= self.max_bytes}

    def require_room(self, growth: Growth) -> None:
        """QuotaExceeded unless ``growth`` fits in both quotas."""
        for quota, used, more, limit in (
            ("tasks", self.tasks, growth.tasks, self.max_tasks),
            ("bytes", self.bytes, growth.bytes, self.max_bytes),
        ):
            if used + more > limit:
                raise QuotaExceeded(
                    f"the task list is full: {used:,} of at most {limit:,} {_NAMES[quota]} are used (the "
                    f"node's storage.max_{quota}). Delete tasks to make room; reads and deletes still work",
                    quota=quota,
                    used=used,
                    limit=limit,
                )


_NAMES = {"tasks": "tasks", "bytes": "bytes of tasks and idempotency records"}

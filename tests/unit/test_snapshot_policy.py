"""When a node snapshots, and how much log it keeps after: by entries and by bytes, so that a client
sending the largest batches cannot make the in-memory log grow to gigabytes between snapshots."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from todonode.config import StorageSection
from todonode.node import snapshot_policy
from todonode.node.snapshot_policy import SnapshotPolicy
from todonode.observer import NodeObserver
from todonode.raft import Entry

MIB = 1024 * 1024


@dataclass
class Log:
    held: list[Entry] = field(default_factory=list)

    @property
    def first_index(self) -> int:
        return self.held[0].index if self.held else 1

    def entries(self, lo: int, hi: int) -> list[Entry]:
        return [e for e in self.held if lo <= e.index <= hi]


def policy(log: Log, applied_index: int, **storage: Any) -> SnapshotPolicy:
    core = SimpleNamespace(log=log)
    applied = SimpleNamespace(index=applied_index)
    return SnapshotPolicy(core, applied, None, StorageSection(**storage), NodeObserver())  # type: ignore[arg-type]


def test_the_log_kept_after_a_snapshot_is_bounded_in_bytes_as_well_as_in_entries() -> None:
    big = Log([Entry(1, i, b"x" * (6 * MIB)) for i in range(1, 11)])
    assert policy(big, 10)._retained(10) == 2  # 12 MiB kept; a third would make 18
    small = Log([Entry(1, i, b"x" * 100) for i in range(1, 8001)])
    assert policy(small, 8000)._retained(8000) == snapshot_policy.MAX_RETAINED_ENTRIES
    assert policy(small, 8000, snapshot_every=300)._retained(8000) == 300


async def test_a_snapshot_is_due_once_the_entries_applied_since_the_last_hold_enough_bytes(
    monkeypatch,
) -> None:
    started: list[int] = []

    async def take(self: SnapshotPolicy) -> None:
        started.append(self._applied.index)
        self._task = None

    monkeypatch.setattr(SnapshotPolicy, "_take", take)
    p = policy(Log(), 0, snapshot_every=1_000_000, snapshot_interval_s=3600)
    for index in range(1, 4):
        p._applied.index = index
        p.applied(Entry(1, index, b"x" * (snapshot_policy.SNAPSHOT_AFTER_BYTES // 3)))
        p.maybe_start()
        await asyncio.sleep(0)
    assert started == [], "a byte short: not yet"
    p._applied.index = 4
    p.applied(Entry(1, 4, b"x" * 10))
    p.maybe_start()
    await asyncio.sleep(0)
    assert started == [4]

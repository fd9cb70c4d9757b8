"""When a node snapshots its applied state and compacts its log, and how.

A snapshot is due every ``storage.snapshot_every`` applied entries, or once the entries applied since
the last one hold SNAPSHOT_AFTER_BYTES, or after ``storage.snapshot_interval_s`` if anything was
applied since the last one. The log is held in memory until a snapshot covers it: counting entries
alone would let a client that sends the largest batches make it gigabytes. It is taken in the
background while the node goes on applying: the state's containers are copied (their values are
never changed in place, see state.py) and encoded in a thread a chunk at a time. Once it is durable,
the core drops the log entries it covers except the most recent ones (at most MAX_RETAINED_ENTRIES,
and no more than MAX_RETAINED_BYTES of them), so that a follower slightly behind still catches up from
the log instead of receiving the whole snapshot, and the write-ahead log deletes the segments it no
longer needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ..config import StorageSection
from ..observer import NodeObserver
from ..raft import Entry, RaftNode, Snapshot, SnapshotMeta
from ..storage import StorageError
from .applied import AppliedState
from .disk import Disk

log = logging.getLogger("todonode.node")

MAX_RETAINED_ENTRIES = 5_000  # kept after a snapshot for followers slightly behind
MAX_RETAINED_BYTES = 16 * 1024 * 1024  # and no more than this of them
SNAPSHOT_AFTER_BYTES = 64 * 1024 * 1024  # of entries applied since the last snapshot


class SnapshotPolicy:
    def __init__(
        self,
        core: RaftNode,
        applied: AppliedState,
        disk: Disk,
        storage: StorageSection,
        observer: NodeObserver,
    ) -> None:
        self._core = core
        self._applied = applied
        self._disk = disk
        self._storage = storage
        self._observer = observer
        self._index = applied.index  # of the newest snapshot
        self._time = time.monotonic()
        self._bytes = 0  # of the entries applied since then
        self._task: asyncio.Task[None] | None = None

    def applied(self, entry: Entry) -> None:
        """``entry`` was applied: it brings the next snapshot nearer by its size as well."""
        self._bytes += len(entry.data)

    def restored(self, index: int) -> None:
        """The state was replaced by a snapshot at ``index`` (installed from the leader)."""
        self._index, self._time, self._bytes = index, time.monotonic(), 0

    def maybe_start(self) -> None:
        """Start a snapshot in the background if one is due and none is running."""
        if self._task is not None:
            return
        behind = self._applied.index - self._index
        due = (
            behind >= self._storage.snapshot_every
            or self._bytes >= SNAPSHOT_AFTER_BYTES
            or (behind > 0 and time.monotonic() - self._time >= self._storage.snapshot_interval_s)
        )
        if due:
            self._task = asyncio.create_task(self._take())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _take(self) -> None:
        core = self._core
        try:
            index, covered = self._applied.index, self._bytes
            term = core.log.term_at(index)
            assert term is not None, "an applied entry is in the log"
            meta = SnapshotMeta(index, term, core.config_at(index))
            started = time.monotonic()
            saved = await self._disk.save_snapshot(meta, self._applied.snapshot())
            retain = self._retained(index)
            core.compact(Snapshot(meta, b""), retain=retain)
            cut = core.log.snapshot_index
            if cut == max(0, index - retain) and cut > 0:
                await self._disk.run(self._disk.wal.compact, cut)
            self._index, self._time = index, time.monotonic()
            self._bytes -= covered  # what was applied while the snapshot was taken still counts
            took = time.monotonic() - started
            self._observer.snapshot(took, saved.size)
            log.info("snapshot at index %d: %d bytes in %.0f ms", index, saved.size, took * 1000)
            self._applied.settle_memory()  # the encoded pieces, and the compacted entries, are free now
        except (StorageError, OSError) as exc:
            log.error("snapshot failed: %s", exc)
        finally:
            self._task = None

    def _retained(self, index: int) -> int:
        """How many of the entries up to ``index`` to keep after a snapshot there: the most recent,
        up to MAX_RETAINED_ENTRIES (and snapshot_every) and MAX_RETAINED_BYTES."""
        log = self._core.log
        most = min(self._storage.snapshot_every, MAX_RETAINED_ENTRIES)
        kept = size = 0
        for entry in reversed(log.entries(max(log.first_index, index - most + 1), index)):
            size += len(entry.data)
            if size > MAX_RETAINED_BYTES:
                break
            kept += 1
        return kept

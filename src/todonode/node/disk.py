"""The node's disk: its write-ahead log, its snapshot files, the lock on its data directory, its
VERSION file, and the one thread that does the blocking work, so the event loop never waits on a file.

The write-ahead log is not thread-safe; every call to it goes through ``run``, ``submit`` or
``write_log``, so calls happen one at a time and in the order they were made: ``run`` and ``submit``
use the same single thread, and ``write_log`` runs its call on the event loop only while that thread
has nothing queued.

Why ``write_log`` may block the event loop: handing a write to the disk thread and taking its result
back costs two thread wake-ups and a wait for the interpreter lock on each side, more CPU and more time
than a fast fsync itself (docs/performance.md). So a log write whose fsync has been fast runs right
where it is asked for; once an fsync is slow (a busy or worn-out disk, the demo's slow disk), the
writes go to the disk thread, so the node keeps answering reads meanwhile, until an fsync there is
fast again. A write that reserves the log's next space (storage/wal.py) runs where the others do: a
reservation is a few megabytes of unwritten extents, microseconds on ext4, once per few thousand writes.

In demo mode the disk can be made slow (``fsync_delay_s``, set by node/demo.py): every fsync of the log
waits that long first, on the disk thread, as a worn-out disk would make it.

Everything is written in one storage format at a time (``storage_format``), which only grows: the
VERSION file is raised before the first record or snapshot in a newer format is written
(storage/version_file.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..config import StorageSection
from ..privacy import PRIVATE_DIR, exposure, make_private
from ..raft import SnapshotMeta
from ..storage import DataDirLock, Recovered, SnapshotFile, SnapshotStore, VersionFile, WriteAheadLog

T = TypeVar("T")
log = logging.getLogger("todonode.node")

# An fsync at least this slow sends the next log writes to the disk thread (see ``write_log``).
INLINE_FSYNC_MAX_S = 0.001


class DataDirExposed(Exception):
    """The data directory exists and other users may read it: every task is in its files."""


class Disk:
    def __init__(self, node_id: str, data_dir: Path, storage: StorageSection) -> None:
        self.data_dir = data_dir
        self.storage = storage
        self.snapshots = SnapshotStore(data_dir / "snapshots")
        self.version = VersionFile(data_dir)
        self.error: str | None = None  # the last write that failed, until a write succeeds again
        self.fsync_delay_s = 0.0  # demo mode's slow disk; 0 everywhere else
        self._lock = DataDirLock(data_dir)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{node_id}-disk")
        self._wal: WriteAheadLog | None = None
        # Jobs given to the disk thread and jobs it finished; each counter has one writer (the event
        # loop, the disk thread), and the thread is idle when they are equal.
        self._queued = 0
        self._finished = 0
        self.last_fsync_s = 0.0  # how long the log's last fsync took, on whichever thread

    @property
    def wal(self) -> WriteAheadLog:
        assert self._wal is not None, "the write-ahead log is opened by recovery, before anything uses it"
        return self._wal

    def lock(self) -> None:
        """Take the data directory (made private if missing) for this process; DataDirLocked if another
        has it, DataDirExposed if it is not private."""
        if exposed := exposure(self.data_dir):
            if not self._written_by_the_first_release():
                raise DataDirExposed(f"data directory {exposed}")
            # 0.1.0 made every data directory 0755 and its files 0644; an upgrade closes them, once.
            changed = make_private(self.data_dir)
            log.warning(
                "%s was written by todonode 0.1.0: made it private (%d modes changed)", self.data_dir, changed
            )
        self.data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        self._lock.acquire()

    def _written_by_the_first_release(self) -> bool:
        """A log and no VERSION file: what todonode 0.1.0 left behind."""
        return (self.data_dir / "wal").is_dir() and not self.version.path.exists()

    def is_empty(self) -> bool:
        """Nothing was ever written here: no log, no snapshot (a node that may join a cluster)."""
        return not (self.data_dir / "wal").exists() and not (self.data_dir / "snapshots").exists()

    @property
    def storage_format(self) -> int:
        """The format everything is written in from now on."""
        return self.wal.storage_format

    async def open_wal(self, storage_format: int) -> Recovered:
        """Open the write-ahead log to write ``storage_format`` (or the newer one it already holds)
        and return what it recovered."""
        await self.run(self.version.require, storage_format)
        self._wal, recovered = await self.run(
            WriteAheadLog.open,
            self.data_dir / "wal",
            segment_bytes=self.storage.segment_bytes,
            fsync=self.storage.fsync,
            storage_format=storage_format,
        )
        # A log that holds a newer format than the VERSION file says (the file was lost) raises it.
        await self.run(self.version.require, self.wal.storage_format)
        return recovered

    def sync_log(self) -> float:
        """fsync the log (after the demo's slow disk has waited, if it is slow); returns how long that
        took."""
        started = time.perf_counter()
        if self.fsync_delay_s > 0:
            time.sleep(self.fsync_delay_s)
        self.wal.sync()
        self.last_fsync_s = time.perf_counter() - started
        return self.last_fsync_s

    async def use_format(self, storage_format: int) -> None:
        """Write ``storage_format`` from now on: the VERSION file first, then the log's FORMAT record."""
        await self.run(self.version.require, storage_format)
        await self.run(self.wal.use_format, storage_format)

    async def save_snapshot(self, meta: SnapshotMeta, state: dict[str, Any]) -> SnapshotFile:
        return await self.snapshots.save(meta, state, self.storage_format)

    async def install_snapshot(self, data: bytes) -> SnapshotMeta:
        """Store a leader's snapshot as it is: in its own format, which the VERSION file then covers."""
        return await self.snapshots.install(data, before_writing=self.version.require)

    async def install_snapshot_file(self, received: Path) -> tuple[SnapshotMeta, dict[str, Any]]:
        """Install a leader's snapshot reassembled in ``received``; its meta and state (see
        SnapshotStore.install_file)."""
        return await self.snapshots.install_file(received, before_writing=self.version.require)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on the disk thread; its result or its exception."""
        return await asyncio.wrap_future(self.submit(lambda: fn(*args, **kwargs)))

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``fn(*args)`` on the disk thread without waiting for it; it runs in order with the rest."""
        self._queued += 1
        return self._thread.submit(self._counted, fn, *args)

    def _counted(self, fn: Callable[..., T], *args: Any) -> T:  # on the disk thread
        try:
            return fn(*args)
        finally:
            self._finished += 1

    async def write_log(self, fn: Callable[[], T]) -> T:
        """``fn()``, a write to the log (fsync'd with ``sync_log`` or not): on the event loop when the
        disk thread is idle and the last fsync was fast, else on the disk thread (module docstring)."""
        fast = self.last_fsync_s < INLINE_FSYNC_MAX_S and self.fsync_delay_s == 0
        if fast and self._queued == self._finished:
            return fn()
        return await self.run(fn)

    async def close(self) -> None:
        """Close the log (everything acknowledged is already fsync'd) and release the directory."""
        if self._wal is not None:
            await self.run(self._wal.close)
        self._thread.shutdown(wait=True)
        self._lock.release()

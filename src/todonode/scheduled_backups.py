"""Scheduled backups: every ``backup.interval_s`` the leader writes a backup file (storage/backup_file.py)
into ``backup.dir``, and keeps the newest ``backup.keep`` of them.

Only the leader takes them, so a cluster whose nodes all have a ``[backup]`` section makes one backup
per interval, wherever the leadership is; each node keeps its own files in its own ``dir``. Each backup
is the applied state at one index, copied on the event loop (node/backup_point.py) and then encoded,
written, fsync'd and read back to check its checksum in a worker thread; it gets its final name only
once it verifies (``AtomicFile``), so a crash or a full disk leaves no partial file under a backup's
name. A failure is logged, counted (``todonode_backup_failures``) and tried again at the next interval:
it never stops the node. ``todonode_backup_age_seconds`` says how old the newest good one is.

Must never: block the event loop for longer than the copy, remove a backup before its successor has
verified, or remove a file it did not name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from .config import BackupSection
from .node import Node
from .node.backup_point import BackupPoint
from .privacy import PRIVATE_DIR
from .storage.backup_file import AtomicFile, BackupRefused, backup_pieces, verify

log = logging.getLogger("todonode.backup")

_NAME = re.compile(r"todonode-\d{8}T\d{6}Z-\d{16}\.backup")


def backup_name(taken: datetime, index: int) -> str:
    """Names sort as the backups were taken: the time first, then the index."""
    return f"todonode-{taken:%Y%m%dT%H%M%SZ}-{index:016d}.backup"


class ScheduledBackups:
    def __init__(self, node: Node, section: BackupSection) -> None:
        assert section.dir is not None, "scheduled backups need backup.dir"
        self._node = node
        self._dir = section.dir
        self._interval_s = section.interval_s
        self._keep = section.keep

    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        """Runs beside the node (app.py's ``cleanup_ctx``), and stops before it."""
        task = asyncio.create_task(self.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def run(self) -> None:
        newest = await asyncio.to_thread(self._prepare)
        if newest is not None:
            self._node.observer.backup_good(newest)
        while True:
            await asyncio.sleep(self._interval_s)
            if self._node.is_leader:
                await self.take()

    async def take(self) -> Path | None:
        """Write one backup now and rotate; its path, or None if it failed (logged and counted)."""
        started = time.monotonic()
        point = self._node.backup_point()
        try:
            path = await asyncio.to_thread(self._write, point)
        except (OSError, BackupRefused) as exc:
            log.error(
                "scheduled backup at index %d failed: %s; next try in %d s",
                point.meta.index,
                exc,
                self._interval_s,
            )
            self._node.observer.backup_failed()
            return None
        took = time.monotonic() - started
        size = path.stat().st_size
        self._node.observer.backup_taken(size, took)
        self._node.observer.backup_good(time.time())
        log.info("backup at index %d: %s, %d bytes in %.1f s", point.meta.index, path.name, size, took)
        return path

    # ------------------------------------------------------------------------------- worker thread

    def _prepare(self) -> float | None:
        """Make the directory if it is missing, remove what an interrupted backup left, and find when the
        newest backup that verifies was written (None: there is none)."""
        self._dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        for tmp in self._dir.glob("todonode-*.backup.tmp"):
            tmp.unlink()
        for path in reversed(self._backups()):
            try:
                verify(path)
            except BackupRefused as exc:
                log.warning("%s", exc)
                continue
            return path.stat().st_mtime
        return None

    def _write(self, point: BackupPoint) -> Path:
        header = point.header()
        path = self._dir / backup_name(datetime.now(UTC), point.meta.index)
        with AtomicFile(path, replace=True) as file:
            for piece in backup_pieces(header, point.meta, point.state):
                file.write(piece)
            file.commit()  # fsync'd and read back: its checksum is right
        for old in self._backups()[: -self._keep]:
            old.unlink()
        return path

    def _backups(self) -> list[Path]:
        """The backups this schedule wrote, oldest first."""
        return sorted(p for p in self._dir.iterdir() if _NAME.fullmatch(p.name))

"""Snapshots that arrive from a leader in chunks (snapshot_chunks.py): reassembled into a file of the
snapshot directory, checked, handed to the core by reference, and kept until the Ready loop installs
them (storage/snapshots.py, ``install_file``).

The rules, and why:

- **One transfer at a time.** A transfer begins with its chunk at offset 0. A new one — the leader
  starting over, or a newer leader — replaces the one in progress, whose file is deleted; one of an
  older term than the one in progress is refused, so a deposed leader cannot push out its successor's.
- **In order, or not at all.** Each chunk must start where the last one ended: a chunk that is
  missing, repeated or out of place abandons the transfer and deletes its file. The stream keeps
  frames in order, so this only happens when something is wrong, and the leader sends the snapshot
  again as a new transfer.
- **Bounded.** A snapshot larger than ``storage.max_snapshot_bytes`` is refused at its first chunk,
  and a chunk never takes a file past the size its transfer announced (snapshot_chunks.decode_chunk):
  a peer cannot make this node store more than that, and in memory there is one chunk at a time, each
  written to the file as it arrives, in a worker thread.
- **Whole and intact before the core sees it.** Only a file whose SHA-256 matches the digest of its
  last chunk is handed on. A broken stream abandons its peer's transfer (``abandon``).
- **Kept until installed.** The core takes the snapshot by reference (``Snapshot`` without bytes); a
  file it took is claimed until the Ready loop has installed it, a file it did not take is deleted.
  A crash leaves only ``incoming-*.part`` files, which the next start removes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..raft import SnapshotMeta
from ..snapshot_chunks import Chunk
from ..storage import SnapshotStore

log = logging.getLogger("todonode.node")

TAIL_BYTES = 64 * 1024  # the end of a received file, where a snapshot keeps the cluster's facts


class TransferRefused(Exception):
    """A chunk this node will not take; the message says why, for the log."""


@dataclass(frozen=True, slots=True)
class Received:
    """A whole snapshot file that arrived from ``peer``, its digest checked."""

    peer: str
    term: int
    meta: SnapshotMeta
    path: Path
    size: int
    chunks: int
    tail: bytes  # the file's last TAIL_BYTES (node/identity.py reads the cluster id there)


@dataclass(slots=True)
class _Transfer:
    peer: str
    id: str
    term: int
    meta: SnapshotMeta
    size: int
    path: Path
    file: BinaryIO
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    received: int = 0
    chunks: int = 0


class SnapshotInbox:
    def __init__(self, store: SnapshotStore, max_bytes: int) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._current: _Transfer | None = None
        self._claimed: dict[SnapshotMeta, Path] = {}
        self._lock = asyncio.Lock()  # chunks of several streams, and their files, one at a time

    async def accept(self, peer: str, chunk: Chunk) -> Received | None:
        """Take ``chunk`` from ``peer``: the whole snapshot once its last chunk is in, else None.
        TransferRefused when it cannot be taken (the transfer it belongs to is then abandoned)."""
        async with self._lock:
            return await self._accept(peer, chunk)

    async def abandon(self, peer: str) -> None:
        """``peer``'s stream broke: what it was sending will not arrive whole."""
        async with self._lock:
            if self._current is not None and self._current.peer == peer:
                await self._drop()

    def claim(self, received: Received) -> None:
        """The core took ``received``: keep its file until the Ready loop installs it."""
        self._claimed[received.meta] = received.path

    def claimed(self, meta: SnapshotMeta) -> Path:
        """The file of the snapshot at ``meta`` the core took; KeyError if it took none."""
        return self._claimed[meta]

    async def installed(self, meta: SnapshotMeta) -> None:
        """The snapshot at ``meta`` is installed: forget it, and delete any older claimed file, which a
        newer snapshot replaced in the core before the Ready loop got to it."""
        self._claimed.pop(meta, None)
        for older in [m for m in self._claimed if m.index <= meta.index]:
            await asyncio.to_thread(self._claimed.pop(older).unlink, missing_ok=True)

    async def discard(self, received: Received) -> None:
        """The core did not take ``received`` (it was stale, or from another cluster)."""
        await asyncio.to_thread(received.path.unlink, missing_ok=True)

    # ====================================================================================== reassembly

    async def _accept(self, peer: str, chunk: Chunk) -> Received | None:
        current = self._current
        if chunk.offset == 0:
            current = await self._begin(peer, chunk)
        elif current is None or (current.peer, current.id) != (peer, chunk.transfer):
            return None  # the rest of a transfer already abandoned or replaced
        elif chunk.offset != current.received:
            await self._drop()
            raise TransferRefused(
                f"a chunk of {peer}'s snapshot at byte {chunk.offset:,}, where {current.received:,} was "
                "next: a chunk is missing or repeated; transfer abandoned"
            )
        elif (chunk.term, chunk.meta, chunk.size) != (current.term, current.meta, current.size):
            await self._drop()
            raise TransferRefused(f"{peer} changed a snapshot's term, meta or size while sending it")
        await asyncio.to_thread(self._write, current, chunk.data)
        if not chunk.last:
            return None
        self._current = None
        if chunk.digest != current.digest.hexdigest():
            await asyncio.to_thread(self._close_and_delete, current)
            raise TransferRefused(f"{peer}'s snapshot at index {current.meta.index} arrived damaged (digest)")
        tail = await asyncio.to_thread(self._finish, current)
        return Received(peer, current.term, current.meta, current.path, current.size, current.chunks, tail)

    async def _begin(self, peer: str, chunk: Chunk) -> _Transfer:
        current = self._current
        if current is not None and current.term > chunk.term:
            raise TransferRefused(
                f"{peer} began sending a snapshot of term {chunk.term} while one of term {current.term} "
                f"from {current.peer} arrives"
            )
        if chunk.size == 0:
            raise TransferRefused(f"{peer} offers an empty snapshot")
        if chunk.size > self._max_bytes:
            raise TransferRefused(
                f"{peer} offers a snapshot of {chunk.size:,} bytes; this node takes at most "
                f"{self._max_bytes:,} (storage.max_snapshot_bytes)"
            )
        await self._drop()
        path = self._store.incoming_path()
        file = await asyncio.to_thread(self._create, path)
        self._current = _Transfer(peer, chunk.transfer, chunk.term, chunk.meta, chunk.size, path, file)
        return self._current

    async def _drop(self) -> None:
        current, self._current = self._current, None
        if current is not None:
            await asyncio.to_thread(self._close_and_delete, current)

    # ---------------------------------------------------------------------------------- worker thread

    def _create(self, path: Path) -> BinaryIO:
        self._store.make_directory()
        return open(path, "xb", opener=lambda name, flags: os.open(name, flags, 0o600))

    @staticmethod
    def _write(transfer: _Transfer, data: bytes) -> None:
        transfer.file.write(data)
        transfer.digest.update(data)
        transfer.received += len(data)
        transfer.chunks += 1

    @staticmethod
    def _finish(transfer: _Transfer) -> bytes:
        transfer.file.close()
        with open(transfer.path, "rb") as f:
            f.seek(max(0, transfer.size - TAIL_BYTES))
            return f.read()

    @staticmethod
    def _close_and_delete(transfer: _Transfer) -> None:
        transfer.file.close()
        transfer.path.unlink(missing_ok=True)

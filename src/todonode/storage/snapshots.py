"""Snapshots of the applied state: crash-safe files that a ``pickledb.PickleDB`` loads.

Owns the ``snap-<index>-<term>.json`` files of one directory. A snapshot is the state machine's
top-level dict plus the reserved key ``"raft"`` = ``{"index", "term", "config": {"voters": [...]}}``
saying what it reflects, written as one orjson document, exactly as ``PickleDB.save`` writes it.
From storage format 2 on, ``"raft"`` also holds ``"format"``; a snapshot without it is in format 1
(0.1.0 wrote no format, and ignores the key). The bytes travel to followers as they are, so the
snapshot itself must say its format: a node refuses one newer than it reads (``StorageTooNew``)
instead of setting it aside as damaged.

Loading goes around pickledb's ``load()`` too: its decoder would make every task a dict of fresh
strings, where ``state.decode_tasks`` builds the records a node keeps (the document's other keys are
decoded as JSON, as pickledb does). Saving goes around ``save()``, which neither fsyncs the file and
its directory nor lets the event loop run while it encodes the whole state in one call.

A snapshot a leader sends in chunks (node/snapshot_inbox.py) is written as it arrives into an
``incoming-*.part`` file of this directory (``incoming_path``), and ``install_file`` renames it into
place once it is whole and valid. Parts left by a transfer that a crash interrupted are removed at
start-up, with the unfinished saves.

Must never: leave a half-written file under a final name (write a temp file, fsync it, rename it,
fsync the directory), delete a snapshot before its successor is durable, or block the event loop
while the node serves: saving and installing run in a worker thread, encoding a chunk at a time, and
loading happens at start-up, before the node serves.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import aiofiles
import msgspec
import orjson
from pickledb import PickleDB

from todonode.raft.messages import SnapshotMeta, snapshot_meta_from_wire, snapshot_meta_to_wire
from todonode.state import decode_tasks
from todonode.versions import FIRST_STORAGE_FORMAT, STORAGE_FORMAT, StorageTooNew

RAFT_KEY = "raft"
FORMAT_KEY = "format"  # in the "raft" header
_KEEP = 2  # the newest, and one to fall back on if the newest is found damaged
_NAME = re.compile(r"snap-(\d{16})-(\d{16})\.json")
_INCOMING = "incoming-{}.part"
_TASKS_KEY = "tasks"  # the one key of the state decoded as records (state.decode_tasks)
# Each top-level value left undecoded, as a slice of the bytes: the header is checked before the
# rest is read, and the tasks go to their own decoder.
_TOP_LEVEL = msgspec.json.Decoder(dict[str, msgspec.Raw])
_log = logging.getLogger(__name__)


class SnapshotCorruption(Exception):
    """Bytes that are not a valid snapshot: not an orjson object, or without a valid ``"raft"`` key."""


@dataclass(frozen=True)
class SnapshotFile:
    meta: SnapshotMeta
    path: Path
    size: int


@dataclass(frozen=True)
class LoadedSnapshot:
    meta: SnapshotMeta
    db: PickleDB  # the state machine's keys; "raft" is removed. Save through SnapshotStore, never db.save().
    path: Path
    size: int  # bytes of the file


_CHUNK = 2_000  # entries of a large dict encoded per orjson call


def encode_snapshot(
    meta: SnapshotMeta, state: dict[str, Any], storage_format: int = FIRST_STORAGE_FORMAT
) -> Iterator[bytes]:
    """The file contents for ``state`` at ``meta`` in ``storage_format``, a piece at a time. Pure, but
    slow for a large state: call in a thread, and do not change the dicts in ``state`` meanwhile.

    Large dicts are encoded a chunk at a time: orjson holds the GIL for a whole call, so one call over
    100,000 tasks would stall the event loop (and its heartbeats) for hundreds of milliseconds even
    from a worker thread. Between chunks the loop gets its turn. And the pieces go to the file as they
    come, so the encoded snapshot is never in memory whole (at 100,000 tasks it is about 15 MB)."""
    if RAFT_KEY in state:
        raise ValueError(f"the state machine may not use the reserved key {RAFT_KEY!r}")
    header = snapshot_meta_to_wire(meta)
    if storage_format > FIRST_STORAGE_FORMAT:
        header[FORMAT_KEY] = storage_format
    full = {**state, RAFT_KEY: header}
    for n, (key, value) in enumerate(full.items()):
        yield (b"{" if n == 0 else b",") + orjson.dumps(key) + b":"
        if not isinstance(value, dict) or len(value) <= _CHUNK:
            yield orjson.dumps(value)
            continue
        items = iter(value.items())
        separator = b"{"
        while chunk := dict(islice(items, _CHUNK)):
            yield separator + orjson.dumps(chunk)[1:-1]
            separator = b","
        yield b"}"
    yield b"}"


def decode_snapshot(data: bytes, source: str = "snapshot") -> tuple[SnapshotMeta, dict[str, Any]]:
    """Snapshot bytes -> (meta, state without "raft"). Pure, but slow for a large state: call in a thread.

    Raises SnapshotCorruption naming ``source`` when the bytes are not a valid snapshot, StorageTooNew
    when they are in a newer format than this todonode reads.
    """
    meta, _, state = _decode_with_format(data, source)
    return meta, state


def _decode_with_format(data: bytes, source: str) -> tuple[SnapshotMeta, int, dict[str, Any]]:
    try:
        document = _TOP_LEVEL.decode(data)
    except msgspec.DecodeError as exc:  # not JSON, or not an object at the top level
        raise SnapshotCorruption(f"{source} is not a valid snapshot ({type(exc).__name__}: {exc})") from exc
    meta, storage_format = _header(document, source)
    # Every task is a record the garbage collector tracks: left running, it scanned the young records
    # again and again as they piled up, and a million took twice as long to decode. The state lives
    # as long as the node holds it, so it is set aside from collections (gc.freeze) before they
    # resume, as the node does with what it loads (node/recovery.py).
    collecting = gc.isenabled()
    gc.disable()
    try:
        state = {
            key: decode_tasks(raw) if key == _TASKS_KEY else orjson.loads(memoryview(raw))
            for key, raw in document.items()
        }
    except ValueError as exc:
        raise SnapshotCorruption(f"{source} is not a valid snapshot ({type(exc).__name__}: {exc})") from exc
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    return meta, storage_format, state


def _header(document: dict[str, msgspec.Raw], source: str) -> tuple[SnapshotMeta, int]:
    """The meta and storage format the "raft" key of ``document`` says, taking the key out."""
    try:
        header = orjson.loads(memoryview(document.pop(RAFT_KEY)))
        storage_format = header.get(FORMAT_KEY, FIRST_STORAGE_FORMAT)
        if type(storage_format) is not int or storage_format < FIRST_STORAGE_FORMAT:
            raise ValueError(f"format {storage_format!r}")
        # A newer format may say anything in any shape: refuse it before reading the rest.
        if storage_format > STORAGE_FORMAT:
            raise StorageTooNew(source, storage_format)
        meta = snapshot_meta_from_wire(header)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SnapshotCorruption(f"{source} is not a valid snapshot ({type(exc).__name__}: {exc})") from exc
    return meta, storage_format


def _name(meta: SnapshotMeta) -> str:
    return f"snap-{meta.index:016d}-{meta.term:016d}.json"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SnapshotStore:
    """Saves, loads and installs snapshots in one directory; one operation at a time."""

    def __init__(self, directory: str | os.PathLike[str]):
        self._dir = Path(directory)
        self._lock = asyncio.Lock()

    async def save(
        self, meta: SnapshotMeta, state: dict[str, Any], storage_format: int = FIRST_STORAGE_FORMAT
    ) -> SnapshotFile:
        """Write a snapshot of ``state`` (a shallow copy whose values are replaced, never mutated)."""
        async with self._lock:
            return await asyncio.to_thread(
                lambda: self._persist(meta, encode_snapshot(meta, state, storage_format))
            )

    def save_blocking(
        self, meta: SnapshotMeta, state: dict[str, Any], storage_format: int = FIRST_STORAGE_FORMAT
    ) -> SnapshotFile:
        """``save`` for a directory no node runs on yet (storage/new_cluster.py), from any thread."""
        return self._persist(meta, encode_snapshot(meta, state, storage_format))

    async def load_latest(self) -> LoadedSnapshot | None:
        """The newest valid snapshot, or None if there is none.

        A damaged newest snapshot is renamed ``*.corrupt`` and the older one used, with a warning;
        with no valid one to fall back on, SnapshotCorruption names the damaged file. The file is read
        at start-up, before the node serves.
        """
        async with self._lock:
            await asyncio.to_thread(self._remove_unfinished)
            damaged: list[SnapshotCorruption] = []
            for path in reversed(self._snapshots()):
                db = PickleDB(str(path))
                try:
                    meta, db.db = decode_snapshot(await asyncio.to_thread(path.read_bytes), str(path))
                except SnapshotCorruption as exc:
                    damaged.append(exc)
                    continue
                for problem in damaged:
                    _log.warning("%s; falling back to %s", problem, path.name)
                await asyncio.to_thread(self._retire_newer_than, path)
                return LoadedSnapshot(meta, db, path, path.stat().st_size)
            if damaged:
                raise damaged[0]
            return None

    async def set_aside(self) -> list[Path]:
        """Rename every snapshot ``*.corrupt``: for a node that found them all damaged and starts over
        from its peers. The files stay for inspection; nothing loads or deletes them again."""
        async with self._lock:
            moved = []
            for path in self._snapshots():
                target = path.with_suffix(".corrupt")
                await asyncio.to_thread(path.rename, target)
                moved.append(target)
            return moved

    async def read_bytes(self, meta: SnapshotMeta) -> bytes:
        """The exact bytes of the snapshot at ``meta``: the opaque data Raft sends to a follower.
        FileNotFoundError if it has been replaced by two newer ones since."""
        async with aiofiles.open(self._dir / _name(meta), "rb") as f:
            return await f.read()

    def path_of(self, meta: SnapshotMeta) -> Path:
        """Where the snapshot at ``meta`` is (or would be) kept."""
        return self._dir / _name(meta)

    def incoming_path(self) -> Path:
        """A new file name for a snapshot arriving in chunks, in this directory (so that installing it
        is a rename), never one a snapshot or another transfer uses."""
        return self._dir / _INCOMING.format(uuid.uuid4().hex)

    def make_directory(self) -> None:
        """Create the directory (private) if it is missing; blocking, call it in a thread."""
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def install_file(
        self, received: Path, before_writing: Callable[[int], None] = lambda storage_format: None
    ) -> tuple[SnapshotMeta, dict[str, Any]]:
        """Install the snapshot a leader sent, reassembled in ``received`` (an ``incoming_path``), once
        it proves valid: it is decoded, fsync'd and renamed into place, byte for byte. Returns its meta
        and the state it holds, so that it need not be decoded a second time. ``before_writing`` gets
        its storage format first (in a worker thread). A file that is not a valid snapshot is deleted
        (SnapshotCorruption)."""
        async with self._lock:
            return await asyncio.to_thread(self._install_file, received, before_writing)

    async def install(
        self, data: bytes, before_writing: Callable[[int], None] = lambda storage_format: None
    ) -> SnapshotMeta:
        """Store the snapshot bytes a leader sent, byte for byte, once they prove valid.
        ``before_writing`` gets their storage format first (in a worker thread)."""
        async with self._lock:
            return await asyncio.to_thread(self._install, data, before_writing)

    # ------------------------------------------------------------------------------- worker thread

    def _install(self, data: bytes, before_writing: Callable[[int], None]) -> SnapshotMeta:
        meta, storage_format, _ = _decode_with_format(data, "the snapshot received from the leader")
        before_writing(storage_format)
        self._persist(meta, [data])
        return meta

    def _install_file(
        self, received: Path, before_writing: Callable[[int], None]
    ) -> tuple[SnapshotMeta, dict[str, Any]]:
        try:
            meta, storage_format, state = _decode_with_format(
                received.read_bytes(), "the snapshot received from the leader"
            )
        except SnapshotCorruption:
            received.unlink(missing_ok=True)
            raise
        before_writing(storage_format)
        with open(received, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(received, self._dir / _name(meta))
        self._settle_rename()
        return meta, state

    def _persist(self, meta: SnapshotMeta, pieces: Iterable[bytes]) -> SnapshotFile:
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._dir / _name(meta)
        tmp = path.with_name(path.name + ".tmp")
        try:
            size = 0
            with open(tmp, "wb", opener=lambda name, flags: os.open(name, flags, 0o600)) as f:
                for piece in pieces:
                    f.write(piece)
                    size += len(piece)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)  # a full disk must not stay full of our half file
            raise
        self._settle_rename()
        return SnapshotFile(meta, path, size)

    def _settle_rename(self) -> None:
        """After a snapshot was renamed into place: make the rename durable (only the directory's fsync
        does), then drop the snapshots beyond the ones kept."""
        _fsync_dir(self._dir)
        for old in self._snapshots()[:-_KEEP]:
            old.unlink()

    def _snapshots(self) -> list[Path]:
        """Snapshot files, oldest first (zero-padded names sort by index, then term)."""
        if not self._dir.is_dir():
            return []
        return sorted(p for p in self._dir.iterdir() if _NAME.fullmatch(p.name))

    def _remove_unfinished(self) -> None:
        for tmp in self._dir.glob("snap-*.json.tmp"):
            tmp.unlink()  # a save that crashed before its rename
        for part in self._dir.glob(_INCOMING.format("*")):
            part.unlink()  # a snapshot from the leader that had not all arrived, or was not installed

    def _retire_newer_than(self, path: Path) -> None:
        for bad in self._snapshots():
            if bad.name > path.name:
                # Out of the rotation, or the next save would keep it and delete this good one.
                bad.rename(bad.with_suffix(".corrupt"))

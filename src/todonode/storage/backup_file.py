"""Backup files: a copy of the applied state at one log index that a new cluster can start from.

The file is three parts, written in one pass:

1. a header line: one JSON object ending in ``\\n`` that says what the file is (the magic key
   ``"todonode_backup": 1``), in which backup format (``"format"``), and what it holds: the cluster id,
   the index and term of the state, the storage format of the snapshot, the release that wrote it, the
   task count and when it was made;
2. the snapshot document exactly as ``snapshots.encode_snapshot`` makes it, then ``\\n``;
3. a trailer line: ``{"sha256": ..., "bytes": ...}`` over every byte before it.

So a file cut short has no valid trailer, a damaged one fails its checksum, a foreign one has no magic,
and one from a newer todonode says a format above ours. The trailer comes last so that the file can
be written as it is encoded, never held whole in memory; checking it reads the file a block at a time.

Every refusal is a ``BackupRefused`` whose message starts with the file's name and says what is wrong.
Writing is the caller's (a download, a scheduled backup): ``AtomicFile`` puts the bytes under their
final name only once they are complete, fsync'd and checked.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from ..privacy import PRIVATE_FILE
from ..raft import SnapshotMeta
from ..versions import STORAGE_FORMAT, StorageTooNew
from .durable import fsync_dir
from .snapshots import SnapshotCorruption, decode_snapshot, encode_snapshot

MAGIC_KEY = "todonode_backup"
MAGIC = 1
# Every header starts with these bytes (orjson keeps the order the fields are given in).
_MAGIC_PREFIX = orjson.dumps({MAGIC_KEY: MAGIC})[:-1] + b","
BACKUP_FORMAT = 1  # the newest backup format this todonode reads and the one it writes
MEDIA_TYPE = "application/x-todonode-backup"  # backup_cli.py names it too, to start without this module
_MAX_HEADER_BYTES = 64 * 1024  # a header is a few hundred bytes: a longer first line is not one
_MAX_TRAILER_BYTES = 256
_BLOCK = 1024 * 1024


class BackupRefused(Exception):
    """A file that is not a backup this todonode can restore; ``str()`` names the file and the fault."""

    def __init__(self, source: str | os.PathLike[str], fault: str):
        super().__init__(f"{source}: {fault}")
        self.fault = fault


@dataclass(frozen=True, slots=True)
class BackupHeader:
    """What a backup holds, from its first line."""

    cluster_id: str | None
    index: int
    term: int
    storage_format: int
    release: str
    tasks: int
    created_at: str  # ISO 8601, UTC

    def line(self) -> bytes:
        fields = {MAGIC_KEY: MAGIC, "format": BACKUP_FORMAT, **asdict(self)}
        return orjson.dumps(fields) + b"\n"


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def backup_pieces(header: BackupHeader, meta: SnapshotMeta, state: dict[str, Any]) -> Iterator[bytes]:
    """The whole file for ``state`` at ``meta``, a piece at a time, with its trailer last. As slow as
    ``encode_snapshot`` (call it in a worker thread) and, like it, never changes or holds the whole."""
    if (meta.index, meta.term) != (header.index, header.term):
        raise ValueError(f"the header says {header.index}/{header.term}, the state {meta.index}/{meta.term}")
    body = encode_snapshot(meta, state, header.storage_format)
    yield from checksummed(chain([header.line()], body, [b"\n"]))


def checksummed(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """``pieces`` as they come, then the trailer line over all of them."""
    digest = hashlib.sha256()
    size = 0
    for piece in pieces:
        digest.update(piece)
        size += len(piece)
        yield piece
    yield orjson.dumps({"sha256": digest.hexdigest(), "bytes": size}) + b"\n"


def verify(path: Path) -> BackupHeader:
    """The header of the backup at ``path``, once its magic, format, length and checksum are right;
    BackupRefused naming the file and the fault otherwise. Reads the file a block at a time."""
    return _verified(path)[0]


def read(path: Path) -> tuple[BackupHeader, dict[str, Any]]:
    """The header and the state (the snapshot document without its ``"raft"`` key) of the backup at
    ``path``, verified first. The state is decoded whole: this is for a restore, which needs it all."""
    header, body_at, trailer_at = _verified(path)
    try:
        with open(path, "rb") as f:
            f.seek(body_at)
            body = f.read(trailer_at - 1 - body_at)  # the snapshot, without the newline that ends it
    except OSError as exc:
        raise BackupRefused(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        meta, state = decode_snapshot(body, f"the snapshot in {path}")
    except (SnapshotCorruption, StorageTooNew) as exc:
        raise BackupRefused(path, f"its snapshot cannot be restored ({exc})") from None
    if (meta.index, meta.term) != (header.index, header.term):
        said, held = f"index {header.index}, term {header.term}", f"index {meta.index}, term {meta.term}"
        fault = f"is damaged: its header says {said}, its snapshot {held}"
        raise BackupRefused(path, fault)
    return header, state


def _verified(path: Path) -> tuple[BackupHeader, int, int]:
    """The header, where the snapshot starts and where the trailer starts, of a file that verifies."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            header = _read_header(path, f, size)
            body_at = f.tell()
            trailer_at, expected = _read_trailer(path, f, size)
            if trailer_at <= body_at:
                raise BackupRefused(path, "is truncated: it holds a header and a checksum, but no snapshot")
            _check_sum(path, f, trailer_at, expected)
    except OSError as exc:
        raise BackupRefused(path, f"cannot be read ({exc.strerror or exc})") from None
    return header, body_at, trailer_at


def _read_header(path: Path, f: Any, size: int) -> BackupHeader:
    if size == 0:
        raise BackupRefused(path, "is empty, not a todonode backup")
    line = f.readline(_MAX_HEADER_BYTES)
    if not line.startswith(_MAGIC_PREFIX):
        raise BackupRefused(
            path, f"is not a todonode backup (it does not start with {_MAGIC_PREFIX.decode()})"
        )
    if not line.endswith(b"\n"):
        raise BackupRefused(path, "is damaged: its header line does not end")
    try:
        fields = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise BackupRefused(path, "is damaged: its header line is not valid JSON") from None
    if not isinstance(fields, dict) or fields.get(MAGIC_KEY) != MAGIC:
        raise BackupRefused(path, f"is damaged: its header line does not say {MAGIC_KEY!r}: {MAGIC}")
    version = fields.get("format")
    if type(version) is not int or version < 1:
        raise BackupRefused(path, f"is a todonode backup in an unknown format ({version!r})")
    if version > BACKUP_FORMAT:
        fault = (
            f"is a backup in format {version}, newer than this todonode reads ({BACKUP_FORMAT}): restore "
            "it with the release that made it, or a newer one"
        )
        raise BackupRefused(path, fault)
    try:
        header = BackupHeader(**{key: fields[key] for key in BackupHeader.__slots__})
    except KeyError as exc:
        raise BackupRefused(path, f"has a backup header without {exc.args[0]!r}") from None
    if header.storage_format > STORAGE_FORMAT:
        fault = (
            f"holds a snapshot in storage format {header.storage_format}, newer than this todonode reads "
            f"({STORAGE_FORMAT})"
        )
        raise BackupRefused(path, fault)
    return header


def _read_trailer(path: Path, f: Any, size: int) -> tuple[int, dict[str, Any]]:
    """Where the trailer starts, and what it says; BackupRefused if the file does not end in one."""
    tail_at = max(0, size - _MAX_TRAILER_BYTES)
    f.seek(tail_at)
    tail = f.read()
    start = tail.rfind(b"\n", 0, len(tail) - 1) + 1
    trailer: Any = None
    if tail.endswith(b"\n") and start > 0:
        try:
            trailer = orjson.loads(tail[start:])
        except orjson.JSONDecodeError:
            trailer = None
    valid = (
        isinstance(trailer, dict)
        and isinstance(trailer.get("sha256"), str)
        and type(trailer.get("bytes")) is int
    )
    if not valid:
        raise BackupRefused(path, f"is truncated or damaged: it does not end in a checksum ({size} bytes)")
    trailer_at = tail_at + start
    if trailer["bytes"] != trailer_at:
        counted = trailer["bytes"]
        fault = f"is truncated or damaged: {trailer_at} bytes before its checksum, which counts {counted}"
        raise BackupRefused(path, fault)
    return trailer_at, trailer


def _check_sum(path: Path, f: Any, length: int, trailer: dict[str, Any]) -> None:
    f.seek(0)
    digest = hashlib.sha256()
    left = length
    while left > 0:
        block = f.read(min(_BLOCK, left))
        if not block:
            break
        digest.update(block)
        left -= len(block)
    if digest.hexdigest() != trailer["sha256"]:
        raise BackupRefused(path, "is damaged: its SHA-256 does not match the one in its last line")


class AtomicFile:
    """A file that appears under ``path`` only complete: written to ``<path>.tmp`` (private from its
    creation), fsync'd, checked by ``verify``, then renamed and its directory fsync'd. Anything that
    fails on the way — a full disk, a broken download, a failed check — removes the temporary file.

    ``replace``: an existing ``path`` is replaced; without it, ``commit`` refuses to overwrite one
    (FileExistsError), even one that appeared while this file was written."""

    def __init__(self, path: Path, *, replace: bool = False) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")
        self.size = 0
        self._replace = replace
        self._file = open(  # noqa: SIM115 -- closed by commit, or by __exit__ after a failure
            os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "wb"
        )

    def write(self, piece: bytes) -> None:
        self._file.write(piece)
        self.size += len(piece)

    def commit(self) -> BackupHeader:
        """Make the file durable under its name once it verifies; its header."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        header = verify(self.tmp)
        if self._replace:
            os.replace(self.tmp, self.path)
        else:
            os.link(self.tmp, self.path)  # never over a file that is there: link fails instead
            self.tmp.unlink()
        fsync_dir(self.path.parent)
        return header

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._file.close()
        self.tmp.unlink(missing_ok=True)  # after a commit it is gone already; after a failure, half a file

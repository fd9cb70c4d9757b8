"""The write-ahead log: Raft's hard state and log entries, on disk before anyone hears of them.

Owns the ``wal-<seq>.log`` segment files of one directory: their format, rotation, compaction and
recovery after a crash. Must never rewrite a byte once written (only a torn tail found on open, or
the half record of a failed write, is cut off), touch any other file, or use asyncio: the node calls
it from one worker thread at a time.

A record is ``u32 payload length, u32 CRC32(payload)`` (little-endian), then the payload: one type
byte and an orjson object.

- HARD_STATE ``{"term", "vote", "commit"}``: the latest one wins.
- ENTRY ``{"term", "index", "kind", "data"}``, ``data`` in base64 (JSON has no bytes). An entry at
  index *i* replaces every entry at *i* and above, so recovery just applies records in order.
- COMPACTED ``{"index", "keep"}``: a snapshot covers every entry up to ``index``; the entries after
  it survive if ``keep`` (compaction) and are dropped if not (a log replaced by a snapshot).
- FORMAT ``{"format"}`` (storage format 2 on): the records after it, up to the next FORMAT record,
  are in that storage format. A segment without one is in format 1, as 0.1.0 wrote them. Reading one
  newer than this todonode knows stops at once (``StorageTooNew``), before the records it describes.

Every segment opens with the hard state current when it was created (after its FORMAT record, from
format 2 on), so deleting older segments never loses it. The compaction point needs no such copy:
segments are deleted only right after a COMPACTED record is written to the current segment, which is
never deleted.

The current segment's space is reserved ahead of the writes (``posix_fallocate``, ``RESERVE_AHEAD``
bytes at a time, never past the segment's size), so a sync after a write flushes the data but no
change of the file's size: ``fdatasync`` then has less to write than after a plain append. The
final segment therefore ends in zeros, the space reserved and never written, and reading treats
those as the end of the log. A segment is cut to its written size, durably, before the next one is
created, so only the final segment ever ends in zeros. Readers that predate the reservation read
such a segment too: they cut its zeros off as a torn tail.
"""

from __future__ import annotations

import base64
import errno
import os
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import IntEnum
from itertools import pairwise
from pathlib import Path
from typing import NoReturn

import orjson

from todonode.raft.messages import Entry, EntryKind, HardState
from todonode.versions import FIRST_STORAGE_FORMAT, STORAGE_FORMAT, StorageTooNew

DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
# Space reserved at a time ahead of the write position: a few hundred writes' worth. The sync after a
# reservation flushes the file's new size too, so one sync in a few hundred pays for it; more would
# save nothing measurable and would let a node keep writing longer after its disk filled up.
RESERVE_AHEAD = 64 * 1024
_HEADER = struct.Struct("<II")
_SEGMENT_NAME = re.compile(r"wal-(\d{16})\.log")


class WalCorruption(Exception):
    """A damaged record before the tail: nothing after it can be trusted, so the node must not start."""

    def __init__(self, path: Path, offset: int, problem: str):
        super().__init__(
            f"write-ahead log {path} is corrupt at byte {offset}: {problem}. The log cannot be trusted "
            "past this point, so the node will not start. Move this data directory aside and start the "
            "node with an empty one: the cluster will send it a snapshot and the log."
        )
        self.path, self.offset = path, offset


class StorageError(OSError):
    """A write or fsync failed (disk full, I/O error). No half record was left behind and the log
    stays usable: the same write can be retried once the cause is gone."""


@dataclass(frozen=True)
class Recovered:
    hard_state: HardState
    entries: list[Entry]  # contiguous and ascending, starting at first_index
    first_index: int  # index of entries[0], or the compaction point + 1 when there are none
    truncated_bytes: int  # size of the torn tail cut off the last segment, 0 if none
    notes: list[str]  # what recovery found, for the log


class _Kind(IntEnum):
    HARD_STATE = 1
    ENTRY = 2
    COMPACTED = 3
    FORMAT = 4


@dataclass(frozen=True, slots=True)
class _Compacted:
    index: int
    keep: bool


@dataclass(frozen=True, slots=True)
class _Format:
    storage_format: int


@dataclass(frozen=True, slots=True)
class _Tail:
    """The log as of one record boundary in the current segment."""

    size: int  # bytes in the current segment
    hard_state: HardState
    first_index: int
    last_index: int
    highest: int  # highest entry index written to the current segment (0: none); compaction reads it
    storage_format: int  # of the records last written to the current segment


_Record = HardState | Entry | _Compacted | _Format

# ------------------------------------------------------------------------------------------- records


def _record(kind: _Kind, body: dict[str, object]) -> bytes:
    payload = bytes([kind]) + orjson.dumps(body)
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _hard_state_record(hs: HardState) -> bytes:
    return _record(_Kind.HARD_STATE, {"term": hs.term, "vote": hs.vote, "commit": hs.commit})


def _entry_record(e: Entry) -> bytes:
    data = base64.b64encode(e.data).decode("ascii")
    return _record(_Kind.ENTRY, {"term": e.term, "index": e.index, "kind": e.kind.value, "data": data})


def _compacted_record(index: int, keep: bool) -> bytes:
    return _record(_Kind.COMPACTED, {"index": index, "keep": keep})


def _format_record(storage_format: int) -> bytes:
    return _record(_Kind.FORMAT, {"format": storage_format})


def _decode(payload: bytes) -> _Record:
    body = orjson.loads(payload[1:])
    match payload[0]:
        case _Kind.HARD_STATE:
            return HardState(term=int(body["term"]), vote=body["vote"], commit=int(body["commit"]))
        case _Kind.ENTRY:
            data = base64.b64decode(body["data"], validate=True)
            kind = EntryKind(body["kind"])
            return Entry(term=int(body["term"]), index=int(body["index"]), data=data, kind=kind)
        case _Kind.COMPACTED:
            return _Compacted(index=int(body["index"]), keep=bool(body["keep"]))
        case _Kind.FORMAT:
            return _Format(storage_format=int(body["format"]))
    raise ValueError(f"unknown record type {payload[0]}")


def _damage(data: bytes, offset: int) -> tuple[str, bool] | None:
    """Why the record at ``offset`` is unreadable and whether a torn write explains it; None if it is fine."""
    rest = len(data) - offset
    if rest < _HEADER.size:
        found = f"a record header cut short ({rest} of {_HEADER.size} bytes)", True
    else:
        length, crc = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length
        if end > len(data):
            found = f"a record of {length} bytes runs past the end of the file", True
        elif length == 0 or zlib.crc32(data[offset + _HEADER.size : end]) != crc:
            # A torn write damages only the last record: after it come the end of the file or the
            # zeros of reserved space. One with anything else after it was damaged later.
            found = "CRC mismatch", _only_zeros(data, end)
        else:
            return None
    if _only_zeros(data, offset):  # a file extended but never written, as some crashes leave it
        return f"{rest} zero bytes up to the end of the file", True
    return found


def _only_zeros(data: bytes, offset: int) -> bool:
    return data.count(0, offset) == len(data) - offset


# ------------------------------------------------------------------------------------------ recovery


class _Replay:
    """The log rebuilt by applying records in the order they were written."""

    def __init__(self) -> None:
        self.hard_state = HardState()
        self.entries: list[Entry] = []
        self.base = 0  # the compaction point: the index just before entries[0]

    def apply(self, rec: _Record, strict: bool) -> None:
        match rec:
            case HardState():
                self.hard_state = rec
            case Entry():
                self._entry(rec, strict)
            case _Compacted(index=index, keep=keep):
                if keep and self.entries and self.entries[-1].index > index:
                    del self.entries[: max(0, index - self.base)]
                    self.base = self.entries[0].index - 1
                else:
                    self.entries, self.base = [], index
            case _Format():
                pass  # formats 1 and 2 encode every other record alike; _read_segment checks the number

    def _entry(self, e: Entry, strict: bool) -> None:
        last = self.base + len(self.entries)
        if self.base < e.index <= last + 1:
            del self.entries[e.index - self.base - 1 :]
            self.entries.append(e)
        elif strict or (self.entries and e.index > last + 1):
            raise ValueError(f"entry {e.index} does not continue the log {self.base + 1}..{last}")
        else:
            # Compaction deleted the segments that held what came before this entry; the
            # COMPACTED record written before that deletion, later in the log, drops the rest.
            self.entries, self.base = [e], e.index - 1


@dataclass(frozen=True, slots=True)
class _Segment:
    """What reading one segment found."""

    records: list[tuple[int, _Record]]  # each with its offset
    written: int  # where its records end: the reserved zeros after them are not part of the log
    cut: int  # bytes of a torn tail cut off, 0 if none
    note: str  # why they were cut, '' if nothing was


def _read_segment(path: Path, final: bool, fsync: bool) -> _Segment:
    """Decode one segment's records; cut a torn tail off the final segment, keep its reserved zeros.

    Raises StorageTooNew at a FORMAT record newer than this todonode reads, before the records after it.
    """
    data = path.read_bytes()
    records: list[tuple[int, _Record]] = []
    offset = 0
    while offset < len(data):
        found = _damage(data, offset)
        if found:
            if final and _only_zeros(data, offset):
                break  # reserved and never written (module docstring)
            problem, torn = found
            if not (final and torn):
                raise WalCorruption(path, offset, problem)
            _truncate(path, offset, fsync)
            cut = len(data) - offset
            note = f"cut a torn tail of {cut} bytes off {path.name} at byte {offset}: {problem}"
            return _Segment(records, offset, cut, note)
        end = offset + _HEADER.size + _HEADER.unpack_from(data, offset)[0]
        try:
            record = _decode(data[offset + _HEADER.size : end])
        except (ValueError, KeyError, TypeError) as exc:
            raise WalCorruption(path, offset, f"a record with a valid CRC cannot be decoded ({exc})") from exc
        if isinstance(record, _Format) and record.storage_format > STORAGE_FORMAT:
            raise StorageTooNew(f"write-ahead log segment {path}", record.storage_format)
        records.append((offset, record))
        offset = end
    return _Segment(records, offset, 0, "")


def _truncate(path: Path, size: int, fsync: bool) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _segment_path(directory: Path, seq: int) -> Path:
    return directory / f"wal-{seq:016d}.log"


def _storage_error(exc: OSError, what: str) -> StorageError:
    return StorageError(
        exc.errno or errno.EIO,
        f"write-ahead log: {what} failed ({exc.strerror or exc}); nothing half-written was kept, and the "
        "write can be retried once disk space is freed or the disk is repaired",
    )


# ------------------------------------------------------------------------------------------- the log


class WriteAheadLog:
    """Append-only segments of records. ``append`` writes, ``sync`` makes everything written durable:
    the caller groups many appends under one sync (group commit) and acknowledges nothing before it."""

    def __init__(
        self,
        directory: Path,
        segment_bytes: int,
        fsync: bool,
        closed: list[tuple[Path, int]],
        current: Path,
        tail: _Tail,
        storage_format: int,
    ):
        self._dir = directory
        self._segment_bytes = segment_bytes
        self._fsync = fsync
        self._closed = closed  # older segments, oldest first, each with the highest entry index it holds
        self._path = current
        self._fd = os.open(current, os.O_WRONLY | os.O_CREAT, 0o600)
        self._reserved = os.fstat(self._fd).st_size  # written or reserved: past it a write grows the file
        self._tail = self._synced = tail
        self._format = storage_format  # what every record written from now on is in
        self._broken = ""  # set when a half record could not be cut off: no write may follow it

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        fsync: bool = True,
        storage_format: int = FIRST_STORAGE_FORMAT,
    ) -> tuple[WriteAheadLog, Recovered]:
        """Recover the log and open it for writing in ``storage_format``, or in the newest format its
        segments already use if that is newer: the log's format never goes back."""
        path = Path(directory)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        segments = sorted(p for p in path.iterdir() if _SEGMENT_NAME.fullmatch(p.name))
        flat: list[tuple[Path, int, _Record]] = []
        highest: list[int] = []
        truncated, notes, size = 0, [], 0
        for n, seg in enumerate(segments):
            read = _read_segment(seg, final=n == len(segments) - 1, fsync=fsync)
            truncated += read.cut
            flat += [(seg, offset, rec) for offset, rec in read.records]
            highest.append(max((r.index for _, r in read.records if isinstance(r, Entry)), default=0))
            notes += [read.note] if read.note else []
            size = read.written
        replay = _replay(flat)
        first, last = replay.base + 1, replay.base + len(replay.entries)
        notes.append(
            f"replayed {len(segments)} segment(s): entries {first}..{last}, "
            f"term {replay.hard_state.term}, commit {replay.hard_state.commit}"
        )
        current = segments[-1] if segments else _segment_path(path, 1)
        formats = [(seg, rec.storage_format) for seg, _, rec in flat if isinstance(rec, _Format)]
        written = max((f for _, f in formats), default=FIRST_STORAGE_FORMAT)
        in_current = [f for seg, f in formats if seg == current]
        tail = _Tail(
            size,
            replay.hard_state,
            first,
            last,
            highest[-1] if segments else 0,
            in_current[-1] if in_current else FIRST_STORAGE_FORMAT,
        )
        closed = list(zip(segments[:-1], highest[:-1], strict=True))
        wal = cls(path, segment_bytes, fsync, closed, current, tail, max(storage_format, written))
        if not segments:
            wal._sync_dir()
        wal.use_format(wal.storage_format)
        return wal, Recovered(replay.hard_state, replay.entries, first, truncated, notes)

    @property
    def storage_format(self) -> int:
        return self._format

    def use_format(self, storage_format: int) -> None:
        """Write ``storage_format`` from now on (never an older one than before). From format 2 on, a
        FORMAT record in the current segment, durable at once, says where the format starts. The
        caller has raised the data directory's VERSION file first."""
        self._format = max(self._format, storage_format)
        t = self._tail
        if self._format > t.storage_format and t.size > 0:
            self._put([_format_record(self._format)], replace(t, storage_format=self._format))
            self.sync()

    def append(self, hard_state: HardState | None, entries: Sequence[Entry]) -> None:
        """Write ``hard_state`` (if any) and ``entries`` in one write. Each entry replaces the stored
        entries at its index and above. Raises ValueError for entries that do not continue the log."""
        if hard_state is None and not entries:
            return
        t = self._tail
        if entries and not t.first_index <= entries[0].index <= t.last_index + 1:
            raise ValueError(
                f"entry {entries[0].index} does not continue the log {t.first_index}..{t.last_index}"
            )
        if any(b.index != a.index + 1 for a, b in pairwise(entries)):
            raise ValueError("entries to append must have consecutive indexes")
        if t.size >= self._segment_bytes:
            self._rotate()
            t = self._tail
        records = [_hard_state_record(hard_state)] if hard_state else []
        records += [_entry_record(e) for e in entries]
        last = entries[-1].index if entries else t.last_index
        hs = hard_state or t.hard_state
        self._put(records, replace(t, hard_state=hs, last_index=last, highest=max(t.highest, last)))

    def sync(self) -> None:
        """Make everything appended so far durable. On failure the unsynced records are removed."""
        if self._fsync:
            try:
                # fdatasync flushes the data and whatever metadata reading it back needs, the file's
                # size included when a write grew it; it skips only what recovery never reads (the
                # times). The size grows only past the reserved space: once per RESERVE_AHEAD.
                os.fdatasync(self._fd)
            except OSError as exc:
                # After a failed fsync the kernel may have dropped the pages: what was not synced
                # before is of unknown durability, so it goes and the caller must not acknowledge it.
                self._fail(self._synced, exc, f"fsync of {self._path.name}")
        self._synced = self._tail

    def write(self, hard_state: HardState | None, entries: Sequence[Entry]) -> None:
        """``append`` then ``sync``: for a caller with nothing to group."""
        self.append(hard_state, entries)
        self.sync()

    def compact(self, upto_index: int) -> None:
        """A snapshot, already durable, covers every entry up to ``upto_index``: record that, then
        delete the oldest segments that hold nothing after it (never the current one)."""
        self._mark(upto_index, keep=True)

    def reset(self, index: int) -> None:
        """Discard the whole log in favour of a durable snapshot ending at ``index`` (a follower whose
        log conflicts with the snapshot it installed). The next entry appended must be ``index + 1``."""
        self._mark(index, keep=False)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # --------------------------------------------------------------------------------------- helpers

    def _mark(self, index: int, keep: bool) -> None:
        t = self._tail
        if keep and index < t.first_index - 1:
            raise ValueError(f"cannot compact to {index}: the log already starts at {t.first_index}")
        last = t.last_index if keep and t.last_index > index else index
        self._put([_compacted_record(index, keep)], replace(t, first_index=index + 1, last_index=last))
        # The record must be durable before the segments it makes redundant disappear.
        self.sync()
        while self._closed and (not keep or self._closed[0][1] <= index):
            self._closed.pop(0)[0].unlink()
            # One at a time, oldest first: a crash must leave a prefix deleted, never a hole.
            self._sync_dir()

    def _put(self, records: list[bytes], after: _Tail) -> None:
        """Write records in one write at the tail and move the tail to ``after``."""
        if self._broken:
            raise StorageError(errno.EIO, self._broken)
        if self._tail.size == 0:  # a new segment: see the module docstring
            opening = [_hard_state_record(self._tail.hard_state)]
            if self._format > FIRST_STORAGE_FORMAT:
                opening.insert(0, _format_record(self._format))
            records = [*opening, *records]
            after = replace(after, storage_format=self._format)
        joined = b"".join(records)
        start = self._tail.size
        self._reserve(start + len(joined))
        written = 0
        try:
            while written < len(joined):
                written += os.pwrite(self._fd, memoryview(joined)[written:], start + written)
        except OSError as exc:
            self._fail(self._tail, exc, f"write to {self._path.name}")
        self._tail = replace(after, size=start + len(joined))

    def _reserve(self, upto: int) -> None:
        """Reserve the current segment's space up to ``upto`` bytes and RESERVE_AHEAD beyond, within
        the segment's size (what is written past that size grows the file as it goes)."""
        end = min(self._segment_bytes, upto + RESERVE_AHEAD)
        if not self._reserved < upto < end:
            return  # reserved already, or the write grows the file past the segment's size anyway
        try:
            os.posix_fallocate(self._fd, self._reserved, end - self._reserved)
        except OSError:
            # A reservation only makes syncs cheaper. Whatever stops it (a disk with less room
            # than RESERVE_AHEAD, a file system without it), the records are written without one,
            # and a disk with no room for them fails that write as it would have anyway.
            return
        self._reserved = end

    def _fail(self, back_to: _Tail, exc: OSError, what: str) -> NoReturn:
        """Cut the segment back to a record boundary, so no half record can later read as data."""
        try:
            os.ftruncate(self._fd, back_to.size)  # the reserved space goes too; it is reserved again
        except OSError as cut_exc:
            self._broken = (
                f"{self._path} may end in a half-written record ({what} failed: {exc}; cutting "
                f"it off failed: {cut_exc}); restart the node to recover the log"
            )
            raise StorageError(exc.errno or errno.EIO, self._broken) from exc
        self._tail, self._reserved = back_to, back_to.size
        raise _storage_error(exc, what) from exc

    def _rotate(self) -> None:
        """Finish the current segment (sync covers only the newest) and start the next one."""
        self._finish()
        current = _SEGMENT_NAME.fullmatch(self._path.name)
        assert current is not None, "segments are only ever created under their pattern's names"
        path = _segment_path(self._dir, int(current[1]) + 1)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise _storage_error(exc, f"creating {path.name}") from exc
        try:
            self._sync_dir()  # without it a crash can lose the new file's name, and every record in it
        except StorageError:
            os.close(fd)
            path.unlink()
            raise
        os.close(self._fd)
        self._closed.append((self._path, self._tail.highest))
        self._path, self._fd, self._reserved = path, fd, 0
        self._tail = self._synced = replace(self._tail, size=0, highest=0)

    def _finish(self) -> None:
        """Cut the current segment's reserved space off and make it durable at its written size. Done
        before the next segment exists, so a crash in between leaves this one final, and one that is
        not final never ends in zeros."""
        try:
            os.ftruncate(self._fd, self._tail.size)
            if self._fsync:
                os.fsync(self._fd)  # not fdatasync: the smaller size must be durable with the data
        except OSError as exc:
            self._fail(self._synced, exc, f"finishing {self._path.name}")
        self._reserved = self._tail.size
        self._synced = self._tail

    def _sync_dir(self) -> None:
        if not self._fsync:
            return
        fd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        except OSError as exc:
            raise _storage_error(exc, f"fsync of directory {self._dir}") from exc
        finally:
            os.close(fd)


def _replay(flat: list[tuple[Path, int, _Record]]) -> _Replay:
    """Apply every record in order. Entries must continue the log strictly from the last COMPACTED
    record on; before it, older segments may have been deleted under them (see _Replay._entry)."""
    replay = _Replay()
    strict_from = max((n for n, (_, _, rec) in enumerate(flat) if isinstance(rec, _Compacted)), default=0)
    for n, (path, offset, rec) in enumerate(flat):
        try:
            replay.apply(rec, strict=n >= strict_from)
        except ValueError as exc:
            raise WalCorruption(path, offset, str(exc)) from exc
    return replay

"""The write-ahead log keeps what was synced, cuts only a torn tail, and stops loudly on corruption."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from todonode.raft.messages import Entry, EntryKind, HardState
from todonode.storage import StorageError, WalCorruption, WriteAheadLog
from todonode.storage.wal import RESERVE_AHEAD

HS = HardState(term=3, vote="n2", commit=2)


def entries(lo: int, hi: int, term: int = 1) -> list[Entry]:
    return [Entry(term=term, index=i, data=f"cmd {i}".encode()) for i in range(lo, hi + 1)]


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("wal-*.log"))


def written(path: Path) -> int:
    """The segment's size without the space reserved after its records (every record ends in the
    ``}`` of its JSON body, never in a zero byte)."""
    return len(path.read_bytes().rstrip(b"\0"))


def reopen(directory: Path, **kwargs: object):
    wal, recovered = WriteAheadLog.open(directory, **kwargs)  # type: ignore[arg-type]
    wal.close()
    return recovered


def record_boundaries(directory: Path, appends: list[list[Entry]]) -> list[int]:
    """Write each batch as one append; return the segment size after each."""
    wal, _ = WriteAheadLog.open(directory)
    sizes = []
    for batch in appends:
        wal.write(None, batch)
        sizes.append(written(segments(directory)[-1]))
    wal.close()
    return sizes


def test_hard_state_and_entries_survive_a_reopen(tmp_path: Path) -> None:
    wal, recovered = WriteAheadLog.open(tmp_path)
    assert (recovered.hard_state, recovered.entries, recovered.first_index) == (HardState(), [], 1)
    noop = Entry(term=3, index=4, kind=EntryKind.NOOP)
    binary = Entry(term=3, index=5, data=bytes(range(256)))
    wal.write(HS, [*entries(1, 3), noop, binary])
    wal.close()
    recovered = reopen(tmp_path)
    assert recovered.hard_state == HS
    assert recovered.entries == [*entries(1, 3), noop, binary]
    assert recovered.first_index == 1
    assert recovered.truncated_bytes == 0


def test_latest_hard_state_wins(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    wal.write(HardState(term=1), [])
    wal.write(HardState(term=2, vote="n1"), entries(1, 1))
    wal.write(HardState(term=2, vote="n1", commit=1), [])
    wal.close()
    assert reopen(tmp_path).hard_state == HardState(term=2, vote="n1", commit=1)


def test_an_entry_rewritten_at_a_lower_index_truncates_the_suffix(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    wal.write(HS, entries(1, 6))
    wal.write(None, entries(3, 4, term=2))
    wal.close()
    assert reopen(tmp_path).entries == entries(1, 2) + entries(3, 4, term=2)


def test_append_refuses_entries_that_would_leave_a_gap(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    wal.write(None, entries(1, 3))
    with pytest.raises(ValueError, match="does not continue"):
        wal.append(None, entries(5, 5))
    with pytest.raises(ValueError, match="consecutive"):
        wal.append(None, [*entries(4, 4), *entries(6, 6)])
    wal.close()
    assert reopen(tmp_path).entries == entries(1, 3)


def test_many_appends_share_one_fdatasync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    calls: list[str] = []
    for name in ("fsync", "fdatasync"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda fd, name=name, real=real: (calls.append(name), real(fd))[1])
    for i in range(1, 11):
        wal.append(HardState(term=1, commit=i - 1), entries(i, i))
    wal.sync()
    assert calls == ["fdatasync"]
    wal.close()
    assert reopen(tmp_path).entries == entries(1, 10)


# ---------------------------------------------------------------------------------------- torn tails


def test_a_tail_torn_at_every_byte_of_the_last_record_is_cut_off(tmp_path: Path) -> None:
    source = tmp_path / "source"
    good, full = record_boundaries(source, [entries(1, 3), entries(4, 4)])
    data = segments(source)[0].read_bytes()[:full]
    for cut in range(good, full):
        directory = tmp_path / f"cut{cut}"
        directory.mkdir()
        (directory / segments(source)[0].name).write_bytes(data[:cut])
        wal, recovered = WriteAheadLog.open(directory)
        assert recovered.entries == entries(1, 3), cut
        assert recovered.truncated_bytes == cut - good
        assert segments(directory)[0].stat().st_size == good
        assert any("torn tail" in note for note in recovered.notes) == (cut > good)
        wal.write(None, entries(4, 5))  # the log goes on from a clean record boundary
        wal.close()
        assert reopen(directory).entries == entries(1, 5)


def test_a_crc_mismatch_on_the_final_record_is_a_torn_tail(tmp_path: Path) -> None:
    good, full = record_boundaries(tmp_path, [entries(1, 2), entries(3, 3)])
    path = segments(tmp_path)[0]
    data = bytearray(path.read_bytes())
    data[full - 2] ^= 0x01
    path.write_bytes(bytes(data))
    recovered = reopen(tmp_path)
    assert recovered.entries == entries(1, 2)
    assert recovered.truncated_bytes == len(data) - good  # the record and the space reserved after it


def test_a_tail_torn_at_every_byte_before_the_reserved_zeros_is_cut_off(tmp_path: Path) -> None:
    """A crash in the middle of a write into reserved space leaves part of a record, then zeros."""
    source = tmp_path / "source"
    good, full = record_boundaries(source, [entries(1, 3), entries(4, 4)])
    data = segments(source)[0].read_bytes()
    assert len(data) > full  # reserved ahead
    for cut in range(good + 1, full):
        directory = tmp_path / f"cut{cut}"
        directory.mkdir()
        (directory / segments(source)[0].name).write_bytes(data[:cut] + bytes(4096))
        wal, recovered = WriteAheadLog.open(directory)
        assert recovered.entries == entries(1, 3), cut
        assert recovered.truncated_bytes == cut + 4096 - good, cut
        assert any("torn tail" in note for note in recovered.notes), cut
        wal.write(None, entries(4, 5))
        wal.close()
        assert reopen(directory).entries == entries(1, 5)


def test_a_segment_reserves_space_and_reopens_with_every_record_and_no_note(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    wal.write(HS, entries(1, 3))
    path = segments(tmp_path)[0]
    reserved = path.stat().st_size
    assert reserved == written(path) + RESERVE_AHEAD
    wal.close()
    wal, recovered = WriteAheadLog.open(tmp_path)
    assert (recovered.hard_state, recovered.entries, recovered.truncated_bytes) == (HS, entries(1, 3), 0)
    assert [note for note in recovered.notes if not note.startswith("replayed")] == []
    assert path.stat().st_size == reserved  # the reserved zeros are kept, not cut as a torn tail
    wal.write(None, entries(4, 5))  # written where the records end, not after the zeros
    wal.close()
    assert reopen(tmp_path).entries == entries(1, 5)


def test_a_zero_filled_segment_is_an_empty_log(tmp_path: Path) -> None:
    """A crash right after a segment was created and reserved, before its first record."""
    (tmp_path / "wal-0000000000000001.log").write_bytes(bytes(4096))
    wal, recovered = WriteAheadLog.open(tmp_path)
    assert (recovered.entries, recovered.truncated_bytes, len(recovered.notes)) == ([], 0, 1)
    wal.write(HS, entries(1, 2))
    wal.close()
    assert reopen(tmp_path).entries == entries(1, 2)


# ---------------------------------------------------------------------------------------- corruption


def test_a_flipped_bit_in_a_middle_record_stops_recovery(tmp_path: Path) -> None:
    first, second, _ = record_boundaries(tmp_path, [entries(1, 1), entries(2, 2), entries(3, 3)])
    path = segments(tmp_path)[0]
    data = bytearray(path.read_bytes())
    data[second - 3] ^= 0x10  # inside the payload of the record that starts at `first`
    path.write_bytes(bytes(data))
    with pytest.raises(WalCorruption) as caught:
        WriteAheadLog.open(tmp_path)
    message = str(caught.value)
    assert str(path) in message
    assert f"byte {first}" in message
    assert "CRC" in message
    assert "will not start" in message
    assert path.read_bytes() == bytes(data)  # nothing was cut


def test_damage_in_a_segment_before_the_last_is_corruption_even_at_its_end(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path, segment_bytes=200)
    for i in range(1, 30):
        wal.write(None, entries(i, i))
    wal.close()
    older = segments(tmp_path)[0]
    size = older.stat().st_size
    os.truncate(older, size - 1)
    with pytest.raises(WalCorruption, match=f"{older.name} is corrupt at byte"):
        WriteAheadLog.open(tmp_path, segment_bytes=200)


def test_an_entry_that_skips_ahead_is_corruption(tmp_path: Path) -> None:
    """Copy the record of entry 5 from another log after a log that ends at 3."""
    other = tmp_path / "other"
    *_, before_five, with_five = record_boundaries(other, [entries(1, 4), entries(5, 5)])
    record_of_five = segments(other)[0].read_bytes()[before_five:with_five]
    (end_of_three,) = record_boundaries(tmp_path / "log", [entries(1, 3)])
    path = segments(tmp_path / "log")[0]
    with open(path, "r+b") as f:
        f.seek(end_of_three)  # into the reserved space, where the next write would go
        f.write(record_of_five)
    with pytest.raises(WalCorruption, match=f"byte {end_of_three}: entry 5 does not continue the log 1..3"):
        WriteAheadLog.open(tmp_path / "log")


# ------------------------------------------------------------------------------ rotation, compaction


def test_space_is_reserved_up_to_the_segment_size_and_no_further(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path, segment_bytes=300)
    for i in range(1, 41):
        wal.write(None, entries(i, i))
    *finished, current = segments(tmp_path)
    assert len(finished) > 4
    for path in finished:
        assert path.stat().st_size == written(path) >= 300, path.name
    assert current.stat().st_size == 300 > written(current)
    wal.close()
    recovered = reopen(tmp_path, segment_bytes=300)
    assert (recovered.entries, recovered.truncated_bytes) == (entries(1, 40), 0)


def reserved_then_smaller_segments(directory: Path) -> tuple[Path, int]:
    """A segment holding entries 1..10 in space reserved for a larger segment size, reopened with a
    smaller one (as after lowering ``storage.segment_bytes``), so the next write finishes it with
    reserved zeros after its records. Returns it and its written size."""
    wal, _ = WriteAheadLog.open(directory)
    wal.write(HS, entries(1, 10))
    wal.close()
    (path,) = segments(directory)
    assert path.stat().st_size > written(path) > 300
    return path, written(path)


def test_a_finished_segment_is_cut_to_its_records(tmp_path: Path) -> None:
    path, size = reserved_then_smaller_segments(tmp_path)
    wal, _ = WriteAheadLog.open(tmp_path, segment_bytes=300)
    wal.write(None, entries(11, 11))
    wal.close()
    assert segments(tmp_path)[0] == path
    assert path.stat().st_size == size
    recovered = reopen(tmp_path, segment_bytes=300)
    assert (recovered.entries, recovered.truncated_bytes) == (entries(1, 11), 0)


def test_a_crash_between_finishing_a_segment_and_creating_the_next_leaves_it_final_and_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, image = tmp_path / "log", tmp_path / "image"
    first, size = reserved_then_smaller_segments(log)
    wal, _ = WriteAheadLog.open(log, segment_bytes=300)
    durable_sizes: list[int] = []  # the segment's size at each fsync of it
    real_fsync, real_open = os.fsync, os.open

    def recording_fsync(fd: int) -> None:
        if os.fstat(fd).st_ino == first.stat().st_ino:
            durable_sizes.append(os.fstat(fd).st_size)
        real_fsync(fd)

    def crashing_open(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if Path(path).name.startswith("wal-") and Path(path) != first:
            shutil.copytree(log, image)  # what the disk holds if the power goes now
            raise OSError(errno.EIO, "the power went")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "open", crashing_open)
    with pytest.raises(StorageError):
        wal.write(None, entries(11, 11))
    monkeypatch.undo()
    wal.close()
    assert durable_sizes == [size]  # cut to its records and fsync'd before the next was created
    assert segments(image) == [image / first.name]
    assert (image / first.name).stat().st_size == size
    wal, recovered = WriteAheadLog.open(image, segment_bytes=300)
    assert (recovered.entries, recovered.truncated_bytes) == (entries(1, 10), 0)
    wal.write(None, entries(11, 12))  # finishes it again and goes on in the next segment
    wal.close()
    assert len(segments(image)) == 2
    assert reopen(image, segment_bytes=300).entries == entries(1, 12)


def test_compaction_and_reset_keep_the_current_segment_reserved(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path, segment_bytes=2000)
    for i in range(1, 31):
        wal.write(HS, entries(i, i))
    assert len(segments(tmp_path)) == 2
    wal.compact(25)
    assert len(segments(tmp_path)) == 1
    current = segments(tmp_path)[-1]
    assert current.stat().st_size == 2000 > written(current)
    wal.close()
    wal, recovered = WriteAheadLog.open(tmp_path, segment_bytes=2000)
    assert (recovered.first_index, recovered.entries, recovered.truncated_bytes) == (26, entries(26, 30), 0)
    wal.reset(40)
    current = segments(tmp_path)[-1]
    assert current.stat().st_size > written(current)
    wal.write(None, entries(41, 42))
    wal.close()
    recovered = reopen(tmp_path, segment_bytes=2000)
    assert (recovered.first_index, recovered.entries, recovered.truncated_bytes) == (41, entries(41, 42), 0)
    assert [note for note in recovered.notes if not note.startswith("replayed")] == []


def test_rotation_and_compaction_keep_entries_after_the_compaction_point(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path, segment_bytes=300)
    for i in range(1, 41):
        wal.write(HardState(term=2, vote="n3", commit=i - 1), entries(i, i, term=2))
    created = segments(tmp_path)
    assert len(created) > 4
    wal.compact(25)
    remaining = segments(tmp_path)
    assert created[0] not in remaining
    assert remaining[-1] == created[-1]  # never the current segment
    wal.close()
    recovered = reopen(tmp_path, segment_bytes=300)
    assert recovered.first_index == 26
    assert recovered.entries == entries(26, 40, term=2)
    assert recovered.hard_state == HardState(term=2, vote="n3", commit=39)


def test_compacting_everything_keeps_the_hard_state_and_the_next_index(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path, segment_bytes=200)
    wal.write(HS, [])
    for i in range(1, 21):
        wal.write(None, entries(i, i))
    wal.compact(20)
    assert len(segments(tmp_path)) == 1
    wal.close()
    wal, recovered = WriteAheadLog.open(tmp_path, segment_bytes=200)
    assert (recovered.hard_state, recovered.entries, recovered.first_index) == (HS, [], 21)
    with pytest.raises(ValueError):
        wal.append(None, entries(20, 20))
    wal.write(None, entries(21, 21))
    wal.close()
    assert reopen(tmp_path).entries == entries(21, 21)


def test_an_overwrite_that_reaches_into_deleted_segments_recovers(tmp_path: Path) -> None:
    """Segments holding 1..10 are deleted after a later segment rewrote the log from 8."""
    wal, _ = WriteAheadLog.open(tmp_path, segment_bytes=250)
    for i in range(1, 21):
        wal.write(None, entries(i, i))
    wal.write(None, entries(8, 12, term=2))
    wal.compact(10)
    wal.close()
    recovered = reopen(tmp_path, segment_bytes=250)
    assert recovered.entries == entries(11, 12, term=2)
    assert recovered.first_index == 11


def test_reset_discards_the_log_for_a_snapshot(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    wal.write(HS, entries(1, 10))
    wal.reset(50)
    with pytest.raises(ValueError):
        wal.append(None, entries(11, 11))
    wal.close()
    wal, recovered = WriteAheadLog.open(tmp_path)
    assert (recovered.entries, recovered.first_index, recovered.hard_state) == ([], 51, HS)
    wal.write(None, entries(51, 52))
    wal.close()
    assert reopen(tmp_path).entries == entries(51, 52)


def test_a_new_segment_is_made_durable_by_fsyncing_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wal, _ = WriteAheadLog.open(tmp_path, segment_bytes=100)
    synced_dirs: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            synced_dirs.append(len(segments(tmp_path)))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    for i in range(1, 11):
        wal.write(None, entries(i, i))
    wal.close()
    created = len(segments(tmp_path)) - 1
    assert created >= 3
    assert synced_dirs == list(range(2, created + 2))  # once per new segment, after creating it


def test_compaction_deletes_the_oldest_segments_first_with_a_directory_fsync_after_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wal, _ = WriteAheadLog.open(tmp_path, segment_bytes=100)
    for i in range(1, 11):
        wal.write(None, entries(i, i))
    before = segments(tmp_path)
    seen: list[list[Path]] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            seen.append(segments(tmp_path))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    wal.compact(10)
    wal.close()
    assert seen == [before[n:] for n in range(1, len(before))]


def test_without_fsync_nothing_is_fsynced_and_everything_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fsync(fd: int) -> None:
        raise AssertionError("fsync called with fsync=False")

    monkeypatch.setattr(os, "fsync", no_fsync)
    wal, _ = WriteAheadLog.open(tmp_path, segment_bytes=200, fsync=False)
    for i in range(1, 21):
        wal.write(HardState(term=1, commit=i), entries(i, i))
    wal.compact(10)
    wal.close()
    recovered = reopen(tmp_path, fsync=False)
    assert recovered.entries == entries(11, 20)
    assert recovered.hard_state == HardState(term=1, commit=20)


# ---------------------------------------------------------------------------------------- disk full


def short_write(real_pwrite: Callable[[int, bytes, int], int]) -> Callable[[int, bytes, int], int]:
    """Like the kernel when space runs out during a write: a short write, then ENOSPC."""
    calls = 0

    def pwrite(fd: int, data: bytes, offset: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            return real_pwrite(fd, bytes(data)[: len(data) // 2], offset)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return pwrite


def full_disk_while_reserving(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make reservations find the disk full after reserving part of what they asked for; returns
    the list the length of each attempt is added to."""
    attempts: list[int] = []
    real_fallocate = os.posix_fallocate

    def posix_fallocate(fd: int, offset: int, length: int) -> None:
        attempts.append(length)
        real_fallocate(fd, offset, length // 2)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", posix_fallocate)
    return attempts


def unreserved_log(directory: Path) -> tuple[WriteAheadLog, Path, int]:
    """A log holding HS and entries 1..2 and no reserved space (as a release that reserved nothing
    left it), open for writing: its next write reserves. Returns it, its segment and its size."""
    wal, _ = WriteAheadLog.open(directory)
    wal.write(HS, entries(1, 2))
    wal.close()
    path = segments(directory)[0]
    size = written(path)
    os.truncate(path, size)
    wal, _ = WriteAheadLog.open(directory)
    return wal, path, size


@pytest.mark.parametrize("while_reserving", [False, True])
def test_a_full_disk_leaves_no_half_record_and_a_later_write_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, while_reserving: bool
) -> None:
    wal, path, size = unreserved_log(tmp_path)
    attempts = full_disk_while_reserving(monkeypatch) if while_reserving else []
    monkeypatch.setattr(os, "pwrite", short_write(os.pwrite))
    with pytest.raises(StorageError, match=r"write to wal-.* disk space is freed") as caught:
        wal.append(HardState(term=4), entries(3, 5))
    assert caught.value.errno == errno.ENOSPC
    assert isinstance(caught.value, OSError)
    assert path.stat().st_size == size  # no half record, nothing of a reservation
    assert len(attempts) == while_reserving
    monkeypatch.undo()
    wal.write(None, entries(3, 3, term=3))  # space is back
    wal.close()
    recovered = reopen(tmp_path)
    assert recovered.hard_state == HS
    assert recovered.entries == entries(1, 2) + entries(3, 3, term=3)
    assert recovered.truncated_bytes == 0


def test_records_are_written_without_a_reservation_the_disk_has_no_room_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wal, path, _ = unreserved_log(tmp_path)
    attempts = full_disk_while_reserving(monkeypatch)
    wal.write(None, entries(3, 3))
    wal.write(None, entries(4, 4))
    assert len(attempts) == 2  # every write tries again, and each goes ahead without it
    monkeypatch.undo()
    wal.write(None, entries(5, 5))
    assert path.stat().st_size > written(path)  # reserved again once there is room
    wal.close()
    recovered = reopen(tmp_path)
    assert (recovered.entries, recovered.truncated_bytes) == (entries(1, 5), 0)


def test_a_failed_fsync_drops_the_unsynced_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    wal.write(HS, entries(1, 2))
    size = written(segments(tmp_path)[0])
    real_fdatasync = os.fdatasync

    def failing_fdatasync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    wal.append(None, entries(3, 4))
    monkeypatch.setattr(os, "fdatasync", failing_fdatasync)
    with pytest.raises(StorageError) as caught:
        wal.sync()
    assert caught.value.errno == errno.EIO
    assert segments(tmp_path)[0].stat().st_size == size
    monkeypatch.setattr(os, "fdatasync", real_fdatasync)
    wal.write(None, entries(3, 3, term=2))
    wal.close()
    assert reopen(tmp_path).entries == entries(1, 2) + entries(3, 3, term=2)


# ------------------------------------------------------------------------------------------ property

operation = st.one_of(
    st.tuples(st.just("append"), st.integers(0, 30), st.integers(1, 4), st.integers(1, 5)),
    st.tuples(st.just("compact"), st.integers(0, 40), st.booleans()),
    st.tuples(st.just("reopen")),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(operation, max_size=40))
def test_recovery_matches_a_model_of_the_log(ops: list[tuple]) -> None:
    """Appends (with overwrites), compactions, resets, rotations and reopens, against a plain list."""
    with tempfile.TemporaryDirectory() as directory:
        wal, _ = WriteAheadLog.open(directory, segment_bytes=150)
        first, model, hard_state = 1, [], HardState()  # model: the entries from `first` on
        for op in ops:
            if op[0] == "append":
                _, back, count, term = op
                start = max(first, first + len(model) - back)
                batch = entries(start, start + count - 1, term)
                hard_state = HardState(term=term, commit=start)
                wal.append(hard_state, batch)
                model = model[: start - first] + batch
            elif op[0] == "compact":
                _, upto, keep = op
                upto = max(upto, first - 1)
                if keep:
                    wal.compact(upto)
                    model = [e for e in model if e.index > upto]
                else:
                    wal.reset(upto)
                    model = []
                first = upto + 1
            else:
                wal.close()
                wal, recovered = WriteAheadLog.open(directory, segment_bytes=150)
                assert (recovered.first_index, recovered.entries) == (first, model)
                assert recovered.hard_state == hard_state
        wal.close()
        recovered = reopen(Path(directory), segment_bytes=150)
        assert (recovered.first_index, recovered.entries) == (first, model)
        assert recovered.hard_state == hard_state

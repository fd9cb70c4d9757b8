"""Storage formats: the VERSION file, the log's FORMAT records and the snapshot header's format.

A node reads every format it ever wrote, writes the newest one only when told to (the cluster version
decides), never rewrites what is already on disk, and refuses a format newer than it reads — as
StorageTooNew, never as damage to be cut off or set aside.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import orjson
import pytest

from todonode.raft.messages import ClusterConfig, Entry, HardState, SnapshotMeta
from todonode.storage import SnapshotStore, VersionFile, VersionFileDamaged, WriteAheadLog
from todonode.storage.wal import _Kind
from todonode.versions import STORAGE_FORMAT, StorageTooNew, release

META = SnapshotMeta(index=4, term=2, config=ClusterConfig(("n1",)))
NEWER = STORAGE_FORMAT + 1


def entries(lo: int, hi: int) -> list[Entry]:
    return [Entry(term=1, index=i, data=f"cmd {i}".encode()) for i in range(lo, hi + 1)]


def record(kind: int, body: dict) -> bytes:
    payload = bytes([kind]) + orjson.dumps(body)
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


def written(segment: Path) -> bytes:
    """The segment's records without the space reserved after them (a record never ends in a zero)."""
    return segment.read_bytes().rstrip(b"\0")


def record_kinds(segment: Path) -> list[int]:
    data, kinds, offset = written(segment), [], 0
    while offset < len(data):
        length = struct.unpack_from("<I", data, offset)[0]
        kinds.append(data[offset + 8])
        offset += 8 + length
    return kinds


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("wal-*.log"))


# ---------------------------------------------------------------------------------------- VERSION


def test_a_directory_without_a_version_file_is_format_1_and_is_told_so(tmp_path: Path) -> None:
    assert VersionFile(tmp_path).load() == 1
    assert orjson.loads((tmp_path / "VERSION").read_bytes()) == {"format": 1, "written_by": release()}


def test_the_version_file_is_raised_durably_and_never_lowered(tmp_path: Path) -> None:
    version = VersionFile(tmp_path)
    version.load()
    version.require(2)
    version.require(1)
    assert VersionFile(tmp_path).load() == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_a_newer_format_is_refused_in_one_line_naming_both_versions(tmp_path: Path) -> None:
    (tmp_path / "VERSION").write_bytes(orjson.dumps({"format": NEWER, "written_by": "9.0.0"}))
    with pytest.raises(StorageTooNew) as refused:
        VersionFile(tmp_path).load()
    line = str(refused.value)
    assert "\n" not in line
    assert f"storage format {NEWER}, written by todonode 9.0.0" in line
    assert f"todonode {release()} reads formats 1 to {STORAGE_FORMAT}" in line


@pytest.mark.parametrize("content", [b"", b"2", b'{"format": "2", "written_by": "x"}', b'{"format": 0}'])
def test_a_version_file_todonode_did_not_write_is_not_guessed_at(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "VERSION").write_bytes(content)
    with pytest.raises(VersionFileDamaged, match="is not a todonode VERSION file"):
        VersionFile(tmp_path).load()


# ---------------------------------------------------------------------------------------- the log


def test_format_1_writes_exactly_the_records_0_1_0_wrote(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    wal.write(HardState(term=1), entries(1, 3))
    wal.close()
    assert _Kind.FORMAT not in record_kinds(segments(tmp_path)[0])


def test_moving_to_format_2_adds_a_format_record_and_rewrites_nothing(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    wal.write(HardState(term=1), entries(1, 3))
    before = written(segments(tmp_path)[0])
    wal.use_format(2)
    wal.write(None, entries(4, 5))
    wal.close()
    after = written(segments(tmp_path)[0])
    assert after.startswith(before)
    assert record_kinds(segments(tmp_path)[0])[-3:] == [_Kind.FORMAT, _Kind.ENTRY, _Kind.ENTRY]
    wal, recovered = WriteAheadLog.open(tmp_path)  # reopened without being told: still format 2
    assert wal.storage_format == 2 and recovered.entries == entries(1, 5)
    wal.close()


def test_every_new_segment_opens_with_its_format_then_the_hard_state(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path, segment_bytes=1, storage_format=2)
    for i in range(1, 4):
        wal.write(HardState(term=1, commit=i - 1), entries(i, i))
    wal.close()
    for segment in segments(tmp_path):
        assert record_kinds(segment)[:2] == [_Kind.FORMAT, _Kind.HARD_STATE]
    assert len(segments(tmp_path)) == 3


def test_a_segment_in_a_newer_format_is_refused_before_the_records_it_describes(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    wal.write(HardState(term=1), entries(1, 2))
    wal.close()
    # What a later release might write: a FORMAT record, then a record kind this one does not know.
    end = len(written(segments(tmp_path)[0]))
    with open(segments(tmp_path)[0], "r+b") as f:
        f.seek(end)
        f.write(record(_Kind.FORMAT, {"format": NEWER}) + record(42, {"new": True}))
    with pytest.raises(StorageTooNew, match=f"storage format {NEWER}"):
        WriteAheadLog.open(tmp_path)


# ----------------------------------------------------------------------------------- snapshots


async def test_a_format_1_snapshot_has_0_1_0s_header_and_format_2_names_its_format(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    old = await store.save(META, {"tasks": {}}, storage_format=1)
    assert set(orjson.loads(old.path.read_bytes())["raft"]) == {"index", "term", "config"}
    new = await store.save(SnapshotMeta(5, 2, META.config), {"tasks": {}}, storage_format=2)
    assert orjson.loads(new.path.read_bytes())["raft"]["format"] == 2
    loaded = await SnapshotStore(tmp_path).load_latest()
    assert loaded is not None and loaded.meta.index == 5


async def test_a_newer_snapshot_is_refused_never_set_aside_as_damaged(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    saved = await store.save(META, {"tasks": {}})
    document = orjson.loads(saved.path.read_bytes())
    document["raft"]["format"] = NEWER
    saved.path.write_bytes(orjson.dumps(document))
    with pytest.raises(StorageTooNew):
        await SnapshotStore(tmp_path).load_latest()
    assert saved.path.exists() and not list(tmp_path.glob("*.corrupt"))


async def test_an_installed_snapshot_reports_its_format_before_it_is_written(tmp_path: Path) -> None:
    leader, follower = SnapshotStore(tmp_path / "leader"), SnapshotStore(tmp_path / "follower")
    saved = await leader.save(META, {"tasks": {}}, storage_format=2)
    seen: list[tuple[int, bool]] = []
    await follower.install(
        saved.path.read_bytes(),
        before_writing=lambda f: seen.append((f, (tmp_path / "follower").exists())),
    )
    assert seen == [(2, False)]

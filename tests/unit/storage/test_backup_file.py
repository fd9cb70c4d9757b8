"""A backup file reads back exactly what was written, and every way of damaging one is refused with a
message that names the file and the fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from todonode.raft.messages import ClusterConfig, SnapshotMeta
from todonode.state import Task
from todonode.storage import backup_file
from todonode.storage.backup_file import (
    BACKUP_FORMAT,
    AtomicFile,
    BackupHeader,
    BackupRefused,
    backup_pieces,
    read,
    verify,
)
from todonode.storage.snapshots import _CHUNK, encode_snapshot
from todonode.versions import STORAGE_FORMAT

CONFIG = ClusterConfig(voters=("node4000",))
TASKS = 3 * _CHUNK + 7  # several chunks, so the body is many pieces


def state() -> dict[str, Any]:
    at = "2026-11-27T01:02:03.456Z"
    tasks = {f"t{i:05d}": Task(f"t{i:05d}", f"task {i}", i % 3 == 0, at, at, 1, i + 1) for i in range(TASKS)}
    return {"tasks": tasks, "idempotency": {}, "meta": {"seq": TASKS}, "cluster": {"version": 2, "id": "c1"}}


def header(**changed: Any) -> BackupHeader:
    fields = {
        "cluster_id": "c1",
        "index": 42,
        "term": 3,
        "storage_format": STORAGE_FORMAT,
        "release": "0.2.0",
        "tasks": TASKS,
        "created_at": "2026-12-01T21:00:00Z",
        **changed,
    }
    return BackupHeader(**fields)


def write(path: Path, head: BackupHeader | None = None) -> Path:
    head = head or header()
    with AtomicFile(path) as f:
        for piece in backup_pieces(head, SnapshotMeta(head.index, head.term, CONFIG), state()):
            f.write(piece)
        f.commit()
    return path


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write(tmp_path / "good.backup")


def refused(path: Path) -> str:
    with pytest.raises(BackupRefused) as caught:
        read(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    return caught.value.fault


def test_a_backup_reads_back_the_header_and_the_exact_state(good: Path) -> None:
    head, restored = read(good)
    assert head == header()
    assert restored == state()


def test_the_body_is_the_snapshot_document_byte_for_byte(good: Path) -> None:
    lines = good.read_bytes().split(b"\n")
    snapshot = b"".join(encode_snapshot(SnapshotMeta(42, 3, CONFIG), state(), STORAGE_FORMAT))
    assert lines[1] == snapshot
    assert orjson.loads(lines[0])["todonode_backup"] == 1
    assert orjson.loads(lines[0])["format"] == BACKUP_FORMAT


def test_the_trailer_counts_and_hashes_every_byte_before_it(good: Path) -> None:
    import hashlib

    data = good.read_bytes()
    cut = data.rindex(b"\n", 0, -1) + 1
    trailer = orjson.loads(data[cut:])
    assert trailer == {"sha256": hashlib.sha256(data[:cut]).hexdigest(), "bytes": cut}


@pytest.mark.parametrize("fraction", [0.0001, 0.01, 0.5, 0.99])
def test_a_file_cut_short_anywhere_is_refused_as_truncated(
    good: Path, tmp_path: Path, fraction: float
) -> None:
    data = good.read_bytes()
    cut = tmp_path / "cut.backup"
    cut.write_bytes(data[: max(1, int(len(data) * fraction))])
    fault = refused(cut)
    assert "truncated" in fault or "damaged" in fault, fault


def test_a_file_cut_just_before_its_last_byte_is_refused(good: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.backup"
    cut.write_bytes(good.read_bytes()[:-1])
    assert "truncated" in refused(cut)


def test_a_file_without_its_trailer_is_refused(good: Path, tmp_path: Path) -> None:
    data = good.read_bytes()
    cut = tmp_path / "cut.backup"
    cut.write_bytes(data[: data.rindex(b"\n", 0, -1) + 1])
    assert "truncated" in refused(cut)


def _flipped(good: Path, tmp_path: Path, at: int) -> Path:
    data = bytearray(good.read_bytes())
    data[at] ^= 0x01
    damaged = tmp_path / "flipped.backup"
    damaged.write_bytes(bytes(data))
    return damaged


def test_a_flipped_byte_in_the_header_is_refused(good: Path, tmp_path: Path) -> None:
    data = good.read_bytes()
    at = data.index(b'"index":42') + len('"index":4')  # 42 -> 43: still JSON, no longer the file written
    assert "SHA-256 does not match" in refused(_flipped(good, tmp_path, at))


def test_a_flipped_byte_in_the_body_is_refused(good: Path, tmp_path: Path) -> None:
    data = good.read_bytes()
    at = data.index(b"task 4000") + 5
    assert "SHA-256 does not match" in refused(_flipped(good, tmp_path, at))


@pytest.mark.parametrize("where", ["sha256", "bytes", "brace"])
def test_a_flipped_byte_in_the_trailer_is_refused(good: Path, tmp_path: Path, where: str) -> None:
    data = good.read_bytes()
    trailer_at = data.rindex(b"\n", 0, -1) + 1
    offset = {
        "sha256": data.index(b'"sha256":"', trailer_at) + 12,
        "bytes": len(data) - 3,
        "brace": trailer_at,
    }
    fault = refused(_flipped(good, tmp_path, offset[where]))
    assert "damaged" in fault or "truncated" in fault, fault


def test_a_wrong_magic_is_refused_as_not_a_backup(good: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.backup"
    other.write_bytes(good.read_bytes().replace(b'"todonode_backup":1', b'"todonode_backuq":1', 1))
    assert "is not a todonode backup" in refused(other)


def test_a_newer_backup_format_is_refused_naming_both_formats(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(backup_file, "BACKUP_FORMAT", BACKUP_FORMAT + 1)
    newer = write(tmp_path / "newer.backup")
    monkeypatch.undo()
    fault = refused(newer)
    assert f"format {BACKUP_FORMAT + 1}, newer than this todonode reads ({BACKUP_FORMAT})" in fault


def test_a_snapshot_in_a_newer_storage_format_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(backup_file, "STORAGE_FORMAT", STORAGE_FORMAT + 1)
    newer = write(tmp_path / "newer-storage.backup", header(storage_format=STORAGE_FORMAT + 1))
    monkeypatch.undo()
    assert f"storage format {STORAGE_FORMAT + 1}, newer than this todonode reads" in refused(newer)


def test_an_unknown_backup_format_is_refused(good: Path, tmp_path: Path) -> None:
    other = tmp_path / "unknown.backup"
    other.write_bytes(good.read_bytes().replace(b'"format":1,', b'"format":0,', 1))
    assert "unknown format (0)" in refused(other)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.backup"
    empty.write_bytes(b"")
    assert refused(empty) == "is empty, not a todonode backup"


def test_a_json_file_that_is_not_a_backup_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "tasks.json"
    other.write_bytes(orjson.dumps({"tasks": [{"title": "milk"}]}) + b"\n")
    assert "is not a todonode backup" in refused(other)


def test_a_snapshot_file_is_not_a_backup(tmp_path: Path) -> None:
    snapshot = tmp_path / "snap-0000000000000042-0000000000000003.json"
    snapshot.write_bytes(b"".join(encode_snapshot(SnapshotMeta(42, 3, CONFIG), state(), STORAGE_FORMAT)))
    assert "is not a todonode backup" in refused(snapshot)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    assert "cannot be read" in refused(tmp_path / "nowhere.backup")


def test_verify_reads_the_header_without_decoding_the_snapshot(good: Path, monkeypatch) -> None:
    def no_decoding(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("verify decoded the snapshot")

    monkeypatch.setattr(backup_file, "decode_snapshot", no_decoding)
    assert verify(good) == header()


def test_a_failed_write_leaves_no_file_and_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.backup"
    with pytest.raises(BackupRefused), AtomicFile(path) as f:
        f.write(header().line())
        f.write(b"{}\n")  # no trailer: the check before the rename refuses it
        f.commit()
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_never_overwritten_unless_replacing(good: Path) -> None:
    before = good.read_bytes()
    with pytest.raises(FileExistsError):
        write(good)
    assert good.read_bytes() == before
    assert not good.with_name(good.name + ".tmp").exists()
    with AtomicFile(good, replace=True) as f:
        for piece in backup_pieces(header(index=43), SnapshotMeta(43, 3, CONFIG), state()):
            f.write(piece)
        f.commit()
    assert verify(good).index == 43


def test_the_file_is_private_to_its_owner(good: Path) -> None:
    assert good.stat().st_mode & 0o077 == 0


def test_a_full_disk_leaves_no_partial_file(tmp_path: Path) -> None:
    import errno

    path = tmp_path / "full.backup"
    pieces = backup_pieces(header(), SnapshotMeta(42, 3, CONFIG), state())
    with pytest.raises(OSError, match="No space"), AtomicFile(path) as f:
        f.write(next(pieces))
        f.write(next(pieces))
        raise OSError(errno.ENOSPC, "No space left on device")  # what the next write would raise
    assert list(tmp_path.iterdir()) == []

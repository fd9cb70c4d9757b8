"""Snapshots are crash-safe, loadable by pickledb, and a damaged newest one falls back to the previous."""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from pickledb import PickleDB

from todonode.raft.messages import ClusterConfig, SnapshotMeta
from todonode.state import Task
from todonode.storage import SnapshotCorruption, SnapshotStore, decode_snapshot, encode_snapshot
from todonode.storage import snapshots as snapshots_module
from todonode.storage.snapshots import _CHUNK

CONFIG = ClusterConfig(voters=("http://127.0.0.1:4000", "http://127.0.0.1:4001"))


def meta(index: int, term: int = 2) -> SnapshotMeta:
    return SnapshotMeta(index=index, term=term, config=CONFIG)


AT = "2026-11-27T01:02:03.456Z"


def task(i: int) -> Task:
    return Task(f"t{i}", f"task {i}", i % 2 == 0, AT, AT, 1, i + 1)


def state(index: int) -> dict[str, Any]:
    return {"tasks": {f"t{i}": task(i) for i in range(index)}, "version": index}


def snap_name(index: int) -> str:
    return f"snap-{index:016d}-0000000000000002.json"


def files(directory: Path, pattern: str = "snap-*") -> list[str]:
    return sorted(p.name for p in directory.glob(pattern))


class Crash(Exception):
    """Stands for the process dying at this point."""


async def test_a_saved_snapshot_loads_back_through_pickledb(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    saved = await store.save(meta(7), state(7))
    assert saved.path.name == snap_name(7)
    assert saved.size == saved.path.stat().st_size

    db = PickleDB(str(saved.path))
    await db.load()
    assert db.db["raft"] == {"index": 7, "term": 2, "config": {"voters": list(CONFIG.voters)}}

    loaded = await SnapshotStore(tmp_path).load_latest()
    assert loaded is not None
    assert loaded.meta == meta(7)
    assert loaded.db.db == state(7)  # the reserved key is removed
    assert (loaded.path, loaded.size) == (saved.path, saved.size)


async def test_nothing_to_load_is_none(tmp_path: Path) -> None:
    assert await SnapshotStore(tmp_path / "absent").load_latest() is None


async def test_the_newest_two_snapshots_are_kept(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    for index in (10, 20, 30):
        await store.save(meta(index), state(index))
    assert files(tmp_path) == [snap_name(20), snap_name(30)]


async def test_the_reserved_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved"):
        await SnapshotStore(tmp_path).save(meta(1), {"raft": 1})


async def test_encoding_and_fsync_run_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real_encode, real_fsync = snapshots_module.encode_snapshot, os.fsync

    def encode(*args: Any) -> Iterator[bytes]:
        threads.append(threading.current_thread().name)
        return real_encode(*args)

    def fsync(fd: int) -> None:
        threads.append(threading.current_thread().name)
        real_fsync(fd)

    monkeypatch.setattr(snapshots_module, "encode_snapshot", encode)
    monkeypatch.setattr(os, "fsync", fsync)
    await SnapshotStore(tmp_path).save(meta(3), state(3))
    assert len(threads) == 3  # encode, file fsync, directory fsync
    assert threading.main_thread().name not in threads


async def test_the_directory_is_fsynced_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            seen.append(files(tmp_path))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    await SnapshotStore(tmp_path).save(meta(3), state(3))
    assert seen == [[snap_name(3)]]


# ------------------------------------------------------------------------------------------- crashes


def _raise(*_: Any) -> None:
    raise Crash


def _fsync_crashing_on(kind: int) -> Any:
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_IFMT(os.fstat(fd).st_mode) == kind:
            raise Crash
        real_fsync(fd)

    return fsync


CRASH_POINTS = {
    "after the write, before the file fsync": (os, "fsync", lambda: _fsync_crashing_on(stat.S_IFREG)),
    "after the file fsync, before the rename": (os, "replace", lambda: _raise),
    "after the rename, before the directory fsync": (os, "fsync", lambda: _fsync_crashing_on(stat.S_IFDIR)),
    "after the directory fsync, before deleting the oldest": (Path, "unlink", lambda: _raise),
}


@pytest.mark.parametrize("point", CRASH_POINTS)
async def test_a_crash_at_any_step_of_a_save_leaves_a_loadable_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    store = SnapshotStore(tmp_path)
    await store.save(meta(10), state(10))
    await store.save(meta(20), state(20))
    target, name, make = CRASH_POINTS[point]
    with monkeypatch.context() as patch:
        patch.setattr(target, name, make())
        with pytest.raises(Crash):
            await store.save(meta(30), state(30))

    # Nothing is deleted before the new snapshot is durable: both fallbacks are still there.
    assert {snap_name(10), snap_name(20)} <= set(files(tmp_path))
    loaded = await SnapshotStore(tmp_path).load_latest()
    assert loaded is not None
    assert loaded.meta.index in (20, 30)
    assert loaded.db.db == state(loaded.meta.index)
    assert files(tmp_path, "*.tmp") == []


async def test_a_failed_write_removes_its_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        await SnapshotStore(tmp_path).save(meta(1), state(1))
    assert files(tmp_path) == []


async def test_leftover_temp_files_are_deleted_on_load(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    await store.save(meta(5), state(5))
    (tmp_path / "snap-0000000000000009-0000000000000002.json.tmp").write_bytes(b'{"tasks": {"t')
    loaded = await store.load_latest()
    assert loaded is not None and loaded.meta == meta(5)
    assert files(tmp_path) == [snap_name(5)]


# ---------------------------------------------------------------------------------------- corruption


@pytest.mark.parametrize("damage", ["truncated", "no raft key", "not an object"])
async def test_a_damaged_newest_snapshot_falls_back_to_the_previous(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    store = SnapshotStore(tmp_path)
    await store.save(meta(10), state(10))
    newest = (await store.save(meta(20), state(20))).path
    data = newest.read_bytes()
    newest.write_bytes(
        {
            "truncated": data[: len(data) // 2],
            "no raft key": orjson.dumps(state(20)),
            "not an object": b"[1, 2]",
        }[damage]
    )

    with caplog.at_level(logging.WARNING):
        loaded = await store.load_latest()
    assert loaded is not None and loaded.meta == meta(10)
    assert loaded.db.db == state(10)
    assert newest.name in caplog.text
    # Out of the rotation: the next two saves keep the good snapshot until a newer one exists.
    assert files(tmp_path, "*.corrupt") == [newest.with_suffix(".corrupt").name]
    await store.save(meta(30), state(30))
    assert (await store.load_latest()).meta == meta(30)  # type: ignore[union-attr]
    assert len(files(tmp_path, "*.json")) == 2


async def test_a_damaged_snapshot_without_a_fallback_is_an_error(tmp_path: Path) -> None:
    path = (await SnapshotStore(tmp_path).save(meta(10), state(10))).path
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(SnapshotCorruption, match=str(path)):
        await SnapshotStore(tmp_path).load_latest()
    assert path.exists()  # left in place for inspection


# ---------------------------------------------------------------------------------- leader to follower


async def test_a_follower_installs_the_exact_bytes_the_leader_sends(tmp_path: Path) -> None:
    leader, follower = SnapshotStore(tmp_path / "leader"), SnapshotStore(tmp_path / "follower")
    await leader.save(meta(40, term=5), state(40))
    data = await leader.read_bytes(meta(40, term=5))

    assert await follower.install(data) == meta(40, term=5)
    assert await follower.read_bytes(meta(40, term=5)) == data
    loaded = await follower.load_latest()
    assert loaded is not None and loaded.db.db == state(40)


@pytest.mark.parametrize("data", [b"", b"{not json", b'{"tasks": {}}', b'{"raft": {"index": 1}}'])
async def test_invalid_snapshot_bytes_are_refused_and_not_stored(tmp_path: Path, data: bytes) -> None:
    store = SnapshotStore(tmp_path)
    with pytest.raises(SnapshotCorruption, match="received from the leader"):
        await store.install(data)
    assert files(tmp_path) == []


def test_decode_gives_the_meta_and_the_state_without_the_reserved_key() -> None:
    assert decode_snapshot(b"".join(encode_snapshot(meta(3), state(3)))) == (meta(3), state(3))


@pytest.mark.parametrize("count", [0, 1, _CHUNK, _CHUNK + 1, 2 * _CHUNK, 2 * _CHUNK + 7])
def test_a_large_state_encoded_in_chunks_decodes_to_the_same_state_in_the_same_order(count: int):
    # Encoding goes a chunk at a time so a big state never holds the GIL in one long call.
    tasks = {f"t{i}": task(i) for i in range(count)}
    state = {"tasks": tasks, "idempotency": {}, "meta": {"applied_index": 9}}
    meta = SnapshotMeta(9, 2, ClusterConfig(("n1",)))
    decoded_meta, decoded = decode_snapshot(b"".join(encode_snapshot(meta, state)))
    assert decoded_meta == meta and decoded == state
    assert list(decoded["tasks"]) == list(tasks)  # creation order survives


def test_a_snapshot_of_task_records_is_byte_for_byte_what_dicts_of_the_same_fields_give() -> None:
    # Snapshots go to followers and backups as they are: the records must not change one byte of them.
    as_dicts = {"tasks": {f"t{i}": dataclasses.asdict(task(i)) for i in range(3)}, "version": 3}
    expected = (
        b'{"tasks":{"t0":{"id":"t0","title":"task 0","completed":true,'
        b'"created_at":"2026-11-27T01:02:03.456Z","updated_at":"2026-11-27T01:02:03.456Z","version":1,"seq":1},'
    )
    encoded = b"".join(encode_snapshot(meta(3), state(3)))
    assert encoded == b"".join(encode_snapshot(meta(3), as_dicts))
    assert encoded.startswith(expected)


def test_decoded_tasks_share_their_id_with_their_key_and_equal_timestamps_with_each_other() -> None:
    _, decoded = decode_snapshot(b"".join(encode_snapshot(meta(3), state(3))))
    (key0, first), (key1, second) = list(decoded["tasks"].items())[:2]
    assert type(first) is Task and first == task(0)
    assert first.id is key0 and second.id is key1
    assert first.created_at is first.updated_at is second.created_at is second.updated_at


@pytest.mark.parametrize(
    "tasks",
    [
        b'{"t0": {"id": "t0", "title": "no other field"}}',
        b'{"t0": {"id": "t0", "title": "x", "completed": 1, "created_at": "a", "updated_at": "a", '
        b'"version": 1, "seq": 1}}',
        orjson.dumps({"t0": task(1)}),  # filed under another id
    ],
)
def test_a_snapshot_whose_tasks_are_not_tasks_is_refused(tasks: bytes) -> None:
    data = (
        b'{"tasks": '
        + tasks
        + b', "raft": '
        + orjson.dumps(snapshots_module.snapshot_meta_to_wire(meta(1)))
        + b"}"
    )
    with pytest.raises(SnapshotCorruption, match="not a valid snapshot"):
        decode_snapshot(data)


# ------------------------------------------------------------------------------- a file, not bytes


async def test_a_received_file_is_installed_under_its_name_and_its_state_returned(tmp_path: Path) -> None:
    leader, follower = SnapshotStore(tmp_path / "leader"), SnapshotStore(tmp_path / "follower")
    await leader.save(meta(40, term=5), state(40))
    data = await leader.read_bytes(meta(40, term=5))
    follower.make_directory()
    received = follower.incoming_path()
    received.write_bytes(data)
    formats: list[int] = []

    assert await follower.install_file(received, formats.append) == (meta(40, term=5), state(40))
    assert formats == [1]
    assert not received.exists()
    assert follower.path_of(meta(40, term=5)).read_bytes() == data
    loaded = await follower.load_latest()
    assert loaded is not None and loaded.db.db == state(40)


async def test_a_received_file_that_is_no_snapshot_is_deleted_not_installed(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.make_directory()
    received = store.incoming_path()
    received.write_bytes(b'{"tasks": {}}')
    with pytest.raises(SnapshotCorruption, match="received from the leader"):
        await store.install_file(received)
    assert list(tmp_path.iterdir()) == []


async def test_parts_of_a_transfer_left_by_a_crash_are_removed_at_start_up(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    await store.save(meta(7), state(7))
    part = store.incoming_path()
    part.write_bytes(b'{"tasks": {"t1"')
    loaded = await SnapshotStore(tmp_path).load_latest()
    assert loaded is not None and loaded.meta == meta(7)
    assert not part.exists()
    assert files(tmp_path, "*") == [snap_name(7)]

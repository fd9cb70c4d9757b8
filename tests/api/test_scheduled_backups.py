"""Scheduled backups on a one-node cluster (it leads, so it takes them): the newest ``keep`` are kept and
verify, ``/metrics`` shows the last good one's age and counts failures, and a failure — a backup dir
that is no longer a directory — harms nothing and is recovered from at the next interval."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from todonode.raft.messages import ClusterConfig, SnapshotMeta
from todonode.scheduled_backups import backup_name
from todonode.storage import backup_file
from todonode.storage.backup_file import AtomicFile, BackupHeader, backup_pieces
from todonode.versions import STORAGE_FORMAT

from ..chaos.test_disk import small_tmpfs
from ..needs import ROOT
from .conftest import load, serve, write_config

DEADLINE_S = 20.0


def with_backups(root: Path, **keys: Any) -> Path:
    path = write_config(root)
    lines = "".join(f"{key} = {value!r}\n".replace("'", '"') for key, value in keys.items())
    path.write_text(path.read_text() + "[backup]\n" + lines)
    return path


async def metric(client, name: str) -> float:
    text = await (await client.get("/metrics")).text()
    values = [line.split()[1] for line in text.splitlines() if line.startswith(name + " ")]
    assert values, f"{name} is not in /metrics"
    return float(values[0])


async def poll(client, name: str, predicate, what: str) -> float:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        value = await metric(client, name)
        if predicate(value):
            return value
        assert time.monotonic() < deadline, f"timed out waiting until {what} (last {name} = {value})"
        await asyncio.sleep(0.05)


def backups_in(directory: Path) -> list[Path]:
    return sorted(directory.glob("todonode-*.backup"))


async def test_the_newest_keep_backups_stay_and_each_verifies(tmp_path: Path) -> None:
    directory = tmp_path / "backups"
    async with serve(load(with_backups(tmp_path, dir=str(directory), interval_s=1, keep=2))) as client:
        for n in range(3):
            assert (await client.post("/tasks", json={"title": f"t{n}"})).status == 201
        await poll(client, "todonode_backups_total", lambda v: v >= 4, "four backups were taken")
        kept = backups_in(directory)
        assert len(kept) == 2
        assert [p.name for p in directory.iterdir() if p.suffix == ".tmp"] == []
        headers = [backup_file.verify(path) for path in kept]
        assert all(h.tasks == 3 for h in headers)
        assert headers[0].index <= headers[1].index
        assert await metric(client, "todonode_backup_failures_total") == 0


async def test_the_age_of_the_last_good_backup_resets_with_each_backup(tmp_path: Path) -> None:
    config = load(with_backups(tmp_path, dir=str(tmp_path / "backups"), interval_s=1, keep=3))
    async with serve(config) as client:
        assert await metric(client, "todonode_backup_age_seconds") == float("inf")  # none yet
        aged = await poll(client, "todonode_backup_age_seconds", lambda v: 0.5 <= v < 1e9, "a backup aged")
        await poll(client, "todonode_backup_age_seconds", lambda v: v < aged, "the next backup reset the age")


async def test_at_start_the_age_is_that_of_the_newest_backup_that_verifies(tmp_path: Path) -> None:
    directory = tmp_path / "backups"
    directory.mkdir(mode=0o700)
    header = BackupHeader("c", 5, 1, STORAGE_FORMAT, "0.2.0", 0, "2026-12-01T00:00:00Z")
    older = directory / backup_name(datetime_at(0), 5)
    with AtomicFile(older) as file:
        for piece in backup_pieces(header, SnapshotMeta(5, 1, ClusterConfig(("n",))), {"tasks": {}}):
            file.write(piece)
        file.commit()
    os.utime(older, (time.time() - 1000, time.time() - 1000))
    newer_but_damaged = directory / backup_name(datetime_at(1), 6)
    newer_but_damaged.write_bytes(older.read_bytes()[:-10])
    config = load(with_backups(tmp_path, dir=str(directory), interval_s=3600))
    async with serve(config) as client:
        age = await poll(client, "todonode_backup_age_seconds", lambda v: v < 1e9, "the old backup is found")
    assert age >= 1000


def datetime_at(minute: int) -> datetime:
    return datetime(2026, 1, 1, 0, minute, tzinfo=UTC)


async def test_a_failing_backup_is_counted_and_the_node_goes_on(tmp_path: Path) -> None:
    directory = tmp_path / "backups"
    config = load(with_backups(tmp_path, dir=str(directory), interval_s=1, keep=2))
    async with serve(config) as client:
        await poll(client, "todonode_backups_total", lambda v: v >= 1, "a first backup")
        shutil.rmtree(directory)
        directory.write_text("no longer a directory")  # every write into it fails now
        await poll(client, "todonode_backup_failures_total", lambda v: v >= 2, "two failures were counted")
        resp = await client.post("/tasks", json={"title": "still taking writes"})
        assert resp.status == 201
        status = await (await client.get("/status")).json()
        assert status["is_leader"]
        assert directory.read_text() == "no longer a directory"  # nothing half-written beside it either
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["backups", "data", "node.toml"])

        directory.unlink()
        directory.mkdir(mode=0o700)
        taken = await metric(client, "todonode_backups_total")
        await poll(client, "todonode_backups_total", lambda v: v > taken, "backups to resume")
        assert len(backups_in(directory)) >= 1


async def test_without_a_dir_there_are_no_backup_metrics(make_client) -> None:
    async with make_client() as client:
        text = await (await client.get("/metrics")).text()
    assert "todonode_backup" not in text


@pytest.mark.needs(ROOT)
async def test_a_full_disk_leaves_no_partial_backup_and_the_node_goes_on(tmp_path: Path, caplog) -> None:
    with small_tmpfs(tmp_path / "small") as directory:  # 4 MiB: a backup of 25,000 tasks is larger
        config = load(with_backups(tmp_path / "node", dir=str(directory), interval_s=1, keep=2))
        async with serve(config) as client:
            for first in range(0, 25_000, 1000):
                batch = {
                    "tasks": [{"title": f"task {n} of a list too long"} for n in range(first, first + 1000)]
                }
                assert (await client.post("/tasks/batch", json=batch)).status == 201
            failed = await metric(client, "todonode_backup_failures_total")
            await poll(client, "todonode_backup_failures_total", lambda v: v >= failed + 2, "two failures")
            for path in directory.iterdir():  # what is there is whole: backups from before the list grew
                assert path.suffix == ".backup", f"{path.name} was left behind"
                assert backup_file.verify(path).tasks < 25_000
            assert (await client.post("/tasks", json={"title": "still taking writes"})).status == 201
    assert "No space left on device" in caplog.text

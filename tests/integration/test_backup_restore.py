"""Backups and restores with real processes and the `todonode` command:

- a backup taken from a follower while writes go on holds exactly the state the log up to the backup's
  index makes (the node's own log, replayed entry by entry, is the reference);
- a restore makes a new cluster that other nodes join, and that keeps the tasks through a failover;
- the command refuses what it must: an existing file, a damaged file, a non-empty data directory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from todonode.node.applied import AppliedState
from todonode.raft import EntryKind, decode_config
from todonode.storage import WriteAheadLog, backup_file
from todonode.versions import STORAGE_FORMAT

from .harness import DEADLINE_S, SECRET, Client, NodeProcess, ProcessCluster, find_leader, wait_for
from .membership import all_tasks, role_of, until_each_counts_voters

# No hand-back to the lowest port mid-test, and no snapshot: the whole log stays on disk to replay.
TIMINGS = {"leader_settle_ms": 60_000}
STORAGE = {"snapshot_every": 1_000_000, "snapshot_interval_s": 3600}


@pytest.fixture
async def client():
    async with aiohttp.ClientSession() as session:
        yield Client(session)


def todonode(*args: str, secret: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TODONODE_")}
    if secret:
        env["TODONODE_SECRET"] = SECRET  # the cluster's credentials: a backup is administration
    command = [sys.executable, "-m", "todonode.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)


async def run(*args: str, secret: bool = True) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(todonode, *args, secret=secret)


def one_line_error(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    assert result.returncode == status, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("todonode: "), result.stderr
    return lines[0]


async def keep_writing(client: Client, leader: NodeProcess, stop: asyncio.Event, done: list[int]) -> None:
    """Creates, updates and deletes, some with an Idempotency-Key, until ``stop``; ``done[0]`` counts
    those that succeeded."""
    ids: list[str] = []
    for n in itertools.count():
        if stop.is_set():
            return
        key = {"Idempotency-Key": str(uuid.uuid4())} if n % 3 == 0 else None
        if n % 5 == 4 and ids:
            code, _, _ = await client.call("DELETE", f"{leader.url}/tasks/{ids.pop(0)}", headers=key)
        elif n % 5 == 3 and ids:
            code, _, _ = await client.call("PATCH", f"{leader.url}/tasks/{ids[-1]}", {"completed": True}, key)
        else:
            code, body, _ = await client.call("POST", f"{leader.url}/tasks", {"title": f"w{n}"}, key)
            if code == 201:
                ids.append(body["id"])
        done[0] += code in (200, 201)


def replayed(data_dir: Path, upto: int, work: Path) -> dict[str, Any]:
    """The state the log in ``data_dir`` makes up to index ``upto``, applied entry by entry."""
    wal, recovered = WriteAheadLog.open(data_dir / "wal", storage_format=STORAGE_FORMAT)
    wal.close()
    assert recovered.first_index == 1, "a snapshot compacted the log: there is nothing to replay from 1"
    applied = AppliedState(work / "replay.json")
    config = None
    for entry in recovered.entries[:upto]:
        applied.apply(entry, config)
        if entry.kind is EntryKind.CONFIG:
            config = decode_config(entry.data)
    assert applied.index == upto, f"the log ends at {applied.index}, before {upto}"
    return applied.snapshot()


async def fill(client: Client, node: NodeProcess, count: int) -> None:
    for first in range(0, count, 1000):
        body = {"tasks": [{"title": f"filler {n}"} for n in range(first, min(count, first + 1000))]}
        code, answer, _ = await client.call("POST", node.url + "/tasks/batch", body, timeout=30)
        assert code == 201, answer


@pytest.mark.slow
async def test_a_backup_under_writes_is_the_state_of_the_log_at_its_index(tmp_path: Path, client: Client):
    cluster = ProcessCluster(tmp_path / "cluster", 3, timings=TIMINGS, storage=STORAGE, log_level="info")
    try:
        cluster.start_all()
        leader = await find_leader(client, cluster)
        follower = next(node for node in cluster.nodes if node is not leader)
        await fill(client, leader, 20_000)
        stop, done = asyncio.Event(), [0]
        writer = asyncio.create_task(keep_writing(client, leader, stop, done))

        async def going() -> bool:
            return done[0] >= 20

        await wait_for(going, DEADLINE_S, "the writer to get going")
        out = tmp_path / "during-writes.backup"
        before = done[0]
        result = await run("backup", "--url", follower.url, "--out", str(out))
        during = done[0] - before
        stop.set()
        await writer
        assert result.returncode == 0, result.stderr
        assert during > 0, "no write succeeded while the backup was taken"
        header = backup_file.verify(out)
        assert header.tasks >= 20_000
        assert f"wrote {out}: {header.tasks} tasks at index {header.index}" in result.stdout

        cluster.terminate(follower.index)
        copy = tmp_path / "follower-data"
        shutil.copytree(tmp_path / "cluster" / f"data{follower.port}", copy)
        _, state = backup_file.read(out)
        assert state == replayed(copy, header.index, tmp_path)
    finally:
        cluster.close()


@pytest.mark.slow
async def test_a_restored_cluster_takes_new_members_and_keeps_its_tasks_through_a_failover(
    tmp_path: Path, client: Client
):
    old = ProcessCluster(tmp_path / "old", 3, timings=TIMINGS)
    new = ProcessCluster(tmp_path / "new", 1, timings=TIMINGS)
    try:
        old.start_all()
        leader = await find_leader(client, old)
        await fill(client, leader, 2_500)
        saved = tmp_path / "old.backup"
        assert (await run("backup", "--url", leader.url, "--out", str(saved))).returncode == 0
        old.close()
        expected = await _tasks_in(saved)

        first = new.nodes[0]
        restored = await run("restore", str(saved), "--config", str(first.config))
        assert restored.returncode == 0, restored.stderr
        header = backup_file.verify(saved)
        assert f'[cluster] join = "{first.url}"' in restored.stdout
        new_id = restored.stdout.split("the new cluster ")[1].split(".")[0]
        assert new_id != header.cluster_id

        new.start(first.index)
        assert await find_leader(client, new) is first
        joiners = [new.add_node(join=first.url) for _ in range(2)]
        for joiner in joiners:
            new.start(joiner.index)
        for joiner in joiners:

            async def voter(joiner: NodeProcess = joiner) -> bool:
                return await role_of(client, first, joiner.id) == "voter"

            await wait_for(voter, DEADLINE_S, f"{joiner.id} to become a voter")
        await until_each_counts_voters(client, joiners, 3)
        new.kill(first.index)
        survivor = await find_leader(client, new)
        assert survivor in joiners
        status = await client.status(survivor)
        assert status is not None and status["cluster_id"] == new_id
        for node in joiners:
            tasks = await all_tasks(client, node)
            assert tasks is not None
            assert sorted(_shape(task) for task in tasks) == expected
    finally:
        old.close()
        new.close()


async def _tasks_in(path: Path) -> list[tuple[Any, ...]]:
    _, state = await asyncio.to_thread(backup_file.read, path)
    return sorted(_shape(dataclasses.asdict(task)) for task in state["tasks"].values())


def _shape(task: dict[str, Any]) -> tuple[Any, ...]:
    return (task["id"], task["title"], task["completed"], task["version"])


async def test_the_command_refuses_an_existing_file_and_leaves_it_unless_forced(
    tmp_path: Path, client: Client
):
    cluster = ProcessCluster(tmp_path / "cluster", 1, timings=TIMINGS)
    try:
        cluster.start_all()
        node = await find_leader(client, cluster)
        out = tmp_path / "kept.backup"
        out.write_text("not mine to overwrite")
        error = one_line_error(await run("backup", "--url", node.url, "--out", str(out)))
        assert f"{out} exists; pass --force" in error
        assert out.read_text() == "not mine to overwrite"

        forced = await run("backup", "--url", node.url, "--out", str(out), "--force")
        assert forced.returncode == 0, forced.stderr
        assert backup_file.verify(out).cluster_id == (await client.status(node))["cluster_id"]
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["kept.backup"]
    finally:
        cluster.close()


async def test_a_restore_refuses_a_damaged_file_and_a_data_directory_in_use(tmp_path: Path):
    cluster = ProcessCluster(tmp_path / "cluster", 1, timings=TIMINGS)
    node = cluster.nodes[0]
    damaged = tmp_path / "damaged.backup"
    header = backup_file.BackupHeader("c", 7, 2, STORAGE_FORMAT, "0.2.0", 0, "2026-12-01T00:00:00Z")
    damaged.write_bytes(header.line() + b"{}\n")  # a backup cut off before its checksum
    error = one_line_error(await run("restore", str(damaged), "--config", str(node.config)))
    assert error.startswith(f"todonode: {damaged}: is truncated or damaged")
    assert not (tmp_path / "cluster" / f"data{node.port}").exists()

    data = tmp_path / "cluster" / f"data{node.port}"
    data.mkdir()
    (data / "wal").mkdir()
    error = one_line_error(await run("restore", str(damaged), "--config", str(node.config)))
    assert f"data directory {data} is not empty (it holds wal)" in error
    assert [p.name for p in data.iterdir()] == ["wal"]


async def test_only_the_leader_takes_scheduled_backups(tmp_path: Path, client: Client):
    cluster = ProcessCluster(tmp_path / "cluster", 3, timings=TIMINGS, log_level="info")
    try:
        dirs = {node.id: tmp_path / f"backups-{node.id}" for node in cluster.nodes}
        for node in cluster.nodes:
            text = node.config.read_text()
            node.config.write_text(text + f'[backup]\ndir = "{dirs[node.id]}"\ninterval_s = 1\nkeep = 2\n')
        cluster.start_all()
        leader = await find_leader(client, cluster)

        async def two_kept() -> bool:
            return len(list(dirs[leader.id].glob("todonode-*.backup"))) == 2

        await wait_for(two_kept, DEADLINE_S, "the leader to keep two backups")
        assert await find_leader(client, cluster) is leader, "the leadership moved: the test cannot tell"
        for node in cluster.nodes:
            if node is not leader:
                assert list(dirs[node.id].iterdir()) == [], f"{node.id} took a backup as a follower"
    finally:
        cluster.close()


async def test_the_command_speaks_tls_and_takes_a_certificate_as_the_credential(tmp_path: Path):
    cluster = ProcessCluster(tmp_path / "cluster", 1, timings=TIMINGS, tls=True)
    connector = aiohttp.TCPConnector(ssl=cluster.ssl_context(certificate=None))
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            cluster.start_all()
            node = await find_leader(Client(session), cluster)
        ca = str(cluster.certs_dir / "ca.crt")
        mine = [
            "--cert",
            str(cluster.certs_dir / "client.crt"),
            "--key",
            str(cluster.certs_dir / "client.key"),
        ]
        out = tmp_path / "tls.backup"

        refused = await run("backup", "--url", node.url, "--ca", ca, "--out", str(out), secret=False)
        assert "unauthorized" in one_line_error(refused) and not out.exists()
        taken = await run("backup", "--url", node.url, "--ca", ca, *mine, "--out", str(out), secret=False)
        assert taken.returncode == 0, taken.stderr
        assert backup_file.verify(out).index > 0

        # With the node's config: its CA, and its own certificate as the credential.
        again = await run("backup", "--config", str(node.config), "--out", str(out), "--force")
        assert again.returncode == 0, again.stderr
    finally:
        cluster.close()

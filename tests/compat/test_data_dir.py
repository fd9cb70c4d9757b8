"""A data directory across releases: what the previous release wrote is read whole, and a directory in
a newer format than this todonode reads is refused before anything in it is touched."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.harness import Client, NodeProcess, ProcessCluster, find_leader, wait_for
from todonode.versions import CLUSTER_VERSIONS, STORAGE_FORMAT, release

from .previous import Release

NEWEST = CLUSTER_VERSIONS.stop - 1


Request = tuple[str, str, Any, str]  # method, path, body, Idempotency-Key


async def _write_a_history(client: Client, url: str) -> list[tuple[Request, Any]]:
    """Creates (one by one and in batches), updates, completions and deletes, many with an
    Idempotency-Key; returns each keyed request with its answer."""
    keyed_answers: list[tuple[Request, Any]] = []

    async def call(method: str, path: str, body: Any = None, keyed: bool = False) -> Any:
        key = str(uuid.uuid4())
        headers = {"Idempotency-Key": key} if keyed else None
        code, data, _ = await client.call(method, url + path, body, headers)
        assert 200 <= code < 300, (method, path, code, data)
        if keyed:
            keyed_answers.append(((method, path, body, key), data))
        return data

    ids = []
    for n in range(60):
        ids.append((await call("POST", "/tasks", {"title": f"single {n}"}, keyed=n % 2 == 0))["id"])
    for n in range(4):
        batch = await call("POST", "/tasks/batch", {"tasks": [{"title": f"batch {n}.{i}"} for i in range(5)]})
        ids += [t["id"] for t in batch["tasks"]]
    for n, task_id in enumerate(ids[:30]):
        await call("PATCH", f"/tasks/{task_id}", {"completed": True}, keyed=n % 3 == 0)
    for task_id in ids[30:40]:
        await call("PATCH", f"/tasks/{task_id}", {"title": f"renamed {task_id[:8]}"}, keyed=True)
    for task_id in ids[40:50]:
        await call("DELETE", f"/tasks/{task_id}", keyed=True)
    return keyed_answers


async def _all_tasks(client: Client, node: NodeProcess) -> list[dict]:
    tasks = await client.tasks(node)
    assert tasks is not None
    return tasks


async def test_a_data_directory_of_the_previous_release_is_read_with_every_task_intact(
    previous: Release, make_cluster, client: Client
) -> None:
    # Snapshots every 40 entries: the directory holds snapshots and a log after the newest one.
    cluster: ProcessCluster = make_cluster(1, storage={"snapshot_every": 40}, python=str(previous.python))
    node = cluster.nodes[0]
    data_dir = cluster.root / f"data{node.port}"
    cluster.start(0)
    await find_leader(client, cluster, timeout=20)
    keyed_answers = await _write_a_history(client, node.url)
    written = await _all_tasks(client, node)
    assert cluster.terminate(0) == 0
    assert list((data_dir / "snapshots").glob("snap-*.json")) and list((data_dir / "wal").glob("wal-*.log"))
    assert not (data_dir / "VERSION").exists()  # it really was written by the previous release

    cluster.python = sys.executable
    cluster.start(0)
    await find_leader(client, cluster, timeout=20)
    assert await _all_tasks(client, node) == written
    for (method, path, body, key), answer in keyed_answers:  # the idempotency table came along
        _, data, headers = await client.call(method, node.url + path, body, {"Idempotency-Key": key})
        assert (data, headers.get("Idempotent-Replayed")) == (answer, "true"), (method, path)

    async def moved_on():
        status = await client.status(node)
        return status and status["cluster_version"] == NEWEST and status["storage_format"] == STORAGE_FORMAT

    await wait_for(moved_on, 10, "a cluster of one new node to move to the newest cluster version")
    version_file = orjson.loads((data_dir / "VERSION").read_bytes())
    assert version_file == {"format": STORAGE_FORMAT, "written_by": release()}
    code, added, _ = await client.call("POST", node.url + "/tasks", {"title": "after the upgrade"})
    assert code == 201
    cluster.kill(0)  # and once more from its own, newer format, after a crash
    cluster.start(0)
    await find_leader(client, cluster, timeout=20)
    assert await _all_tasks(client, node) == [added, *written]


def _newer_version_file(data_dir: Path) -> Path:
    path = data_dir / "VERSION"
    path.write_bytes(orjson.dumps({"format": STORAGE_FORMAT + 1, "written_by": "9.9.9"}))
    return path


def _newer_snapshot(data_dir: Path) -> Path:
    (data_dir / "VERSION").write_bytes(orjson.dumps({"format": STORAGE_FORMAT, "written_by": release()}))
    snapshot = data_dir / "snapshots" / f"snap-{7:016d}-{2:016d}.json"
    snapshot.parent.mkdir()
    header = {"index": 7, "term": 2, "config": {"voters": []}, "format": STORAGE_FORMAT + 1}
    snapshot.write_bytes(orjson.dumps({"tasks": {}, "raft": header}))
    return snapshot


@pytest.mark.parametrize("newer", [_newer_version_file, _newer_snapshot], ids=["VERSION", "snapshot"])
async def test_a_data_directory_in_a_newer_format_is_refused_with_exit_2_and_one_line(make_cluster, newer):
    cluster: ProcessCluster = make_cluster(1)
    node = cluster.nodes[0]
    data_dir = cluster.root / f"data{node.port}"
    data_dir.mkdir()
    planted = newer(data_dir)
    before = planted.read_bytes()
    cluster.start(0)
    assert node.proc is not None and node.proc.wait(timeout=30) == 2
    (line,) = node.log.read_text().strip().splitlines()
    assert line.startswith("todonode: ")
    assert f"storage format {STORAGE_FORMAT + 1}" in line
    assert f"todonode {release()} reads formats 1 to {STORAGE_FORMAT}" in line
    assert planted.read_bytes() == before and not (data_dir / "wal").exists()  # nothing was touched


async def test_a_node_whose_log_moved_the_cluster_past_its_versions_exits_2_naming_both(make_cluster):
    cluster: ProcessCluster = make_cluster(1)
    node = cluster.nodes[0]
    data_dir = cluster.root / f"data{node.port}"
    (data_dir / "snapshots").mkdir(parents=True)
    (data_dir / "VERSION").write_bytes(orjson.dumps({"format": STORAGE_FORMAT, "written_by": release()}))
    header = {"index": 7, "term": 2, "config": {"voters": [node.id]}, "format": STORAGE_FORMAT}
    state = {"tasks": {}, "cluster": {"version": NEWEST + 1}, "raft": header}
    (data_dir / "snapshots" / f"snap-{7:016d}-{2:016d}.json").write_bytes(orjson.dumps(state))
    cluster.start(0)
    assert node.proc is not None and node.proc.wait(timeout=30) == 2
    (line,) = node.log.read_text().strip().splitlines()
    assert f"cluster version {NEWEST + 1}; todonode {release()} runs cluster versions 1 to {NEWEST}" in line

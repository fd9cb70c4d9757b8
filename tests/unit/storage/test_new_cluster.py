"""Seeding a data directory as the one member of a new cluster (storage/new_cluster.py): the node that
starts from it leads alone under the new id with exactly the seeded tasks; nothing is ever overwritten;
an interrupted seeding leaves nothing a node would start from."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import orjson
import pytest

from todonode.api.keys import NODE
from todonode.config import Config
from todonode.state import TaskState, create_command
from todonode.storage import member_file, new_cluster
from todonode.storage.new_cluster import SEEDING_SUFFIX, DataDirNotEmpty, seed_new_cluster

from ...api.conftest import load, serve, write_config
from ...integration.harness import free_ports
from ..test_recovery import recovered

AT = "2026-12-01T00:00:00.000Z"
INDEX, TERM = 57, 4
OLD_FACTS = {"version": 2, "id": "0" * 32, "retired": ["node1"], "kept_learners": ["node9"]}


def old_state(count: int = 5) -> dict[str, Any]:
    """A state as another cluster left it: ``count`` tasks, and that cluster's own facts."""
    state: dict[str, Any] = {}
    tasks = TaskState(state)
    for n in range(1, count + 1):
        tasks.apply(n, create_command(f"task {n}", task_id=f"t{n}", at=AT))
    state["cluster"] = dict(OLD_FACTS)
    return state


def config_listing_other_nodes(root: Path) -> Config:
    """A node whose config file names three more nodes, none of which runs: the old cluster's."""
    path = write_config(root)
    url = load(path).self_url
    others = [f"http://127.0.0.1:{port}" for port in free_ports(3)]
    listed = ", ".join(f'"{u}"' for u in [url, *others])
    path.write_text(path.read_text().replace(f'nodes = ["{url}"]', f"nodes = [{listed}]"))
    return load(path)


def seed(config: Config, state: dict[str, Any]) -> str:
    return seed_new_cluster(config.node.data_dir, config.node.id, config.self_url, state, INDEX, TERM)


def listing(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


async def test_a_seeded_node_leads_alone_under_the_new_id_and_serves_exactly_the_seeded_tasks(tmp_path):
    config = config_listing_other_nodes(tmp_path / "node")
    state = old_state()
    cluster_id = seed(config, state)
    async with serve(config) as client:
        node = client.app[NODE]
        assert node.cluster_id == cluster_id != OLD_FACTS["id"]
        # The three nodes its file lists are not members: it leads without them and never links them.
        assert node.members == {config.node.id: config.self_url}
        status = await (await client.get("/status")).json()
        assert status["quorum"]["voters"] == 1 and status["config_disagreement"] is None
        listed = await (await client.get("/tasks?limit=100")).json()
        assert {t["id"]: t["title"] for t in listed["tasks"]} == {f"t{n}": f"task {n}" for n in range(1, 6)}
        written = await client.post("/tasks", json={"title": "after the seeding"})
        assert written.status == 201
        assert int(written.headers["X-Todonode-Applied-Index"]) > INDEX


async def test_the_seeded_directory_holds_the_state_at_its_index_and_term_and_the_new_facts(tmp_path):
    config = config_listing_other_nodes(tmp_path / "node")
    state = old_state()
    cluster_id = seed(config, state)
    async with recovered(config) as (core, applied):
        assert (applied.index, core.log.snapshot_index, core.log.last_index, core.commit) == (INDEX,) * 4
        assert core.term == TERM and core.log.term_at(INDEX) == TERM
        assert core.config.voters == (config.node.id,)
        # The old cluster's retired ids and kept learners named members of a cluster that is gone.
        assert applied.db.db["cluster"] == {"version": 2, "id": cluster_id}
        assert applied.db.db["tasks"] == state["tasks"]
    joined = member_file.load(config.node.data_dir)
    assert joined == member_file.Membership(config.node.id, cluster_id, {config.node.id: config.self_url})


def test_a_state_from_before_cluster_ids_is_seeded_at_the_version_that_has_them(tmp_path):
    config = load(write_config(tmp_path / "node"))
    state = old_state()
    del state["cluster"]  # cluster version 1, as 0.1.0 kept it
    cluster_id = seed(config, state)
    snapshot = next((config.node.data_dir / "snapshots").glob("snap-*.json"))
    document = orjson.loads(snapshot.read_bytes())
    assert document["cluster"] == {"version": 2, "id": cluster_id}
    assert document["raft"]["format"] == 2


def test_a_directory_that_holds_anything_is_refused_and_left_as_it_was(tmp_path):
    config = load(write_config(tmp_path / "node"))
    data_dir = config.node.data_dir
    (data_dir / "wal").mkdir(parents=True)
    (data_dir / "wal" / "wal-0000000000000001.log").write_bytes(b"someone's log")
    (data_dir / "notes.txt").write_text("keep me")
    before = listing(data_dir)
    with pytest.raises(DataDirNotEmpty) as refused:
        seed(config, old_state())
    assert str(data_dir) in str(refused.value) and "notes.txt" in str(refused.value)
    assert listing(data_dir) == before
    assert not data_dir.with_name(data_dir.name + SEEDING_SUFFIX).exists()


def test_a_file_in_the_directory_s_place_is_refused(tmp_path):
    config = load(write_config(tmp_path / "node"))
    config.node.data_dir.write_text("not a directory")
    with pytest.raises(DataDirNotEmpty, match="is a file"):
        seed(config, old_state())
    assert config.node.data_dir.read_text() == "not a directory"


def test_an_empty_directory_is_seeded_in_place(tmp_path):
    config = load(write_config(tmp_path / "node"))
    config.node.data_dir.mkdir(mode=0o700)
    seed(config, old_state())
    assert (config.node.data_dir / "MEMBER").exists()


async def test_a_seeding_that_fails_before_its_rename_leaves_no_data_directory_and_can_be_run_again(
    tmp_path, monkeypatch
):
    config = load(write_config(tmp_path / "node"))
    data_dir = config.node.data_dir

    def crash(src: Any, dst: Any) -> None:
        raise OSError(errno.EIO, "simulated crash before the rename")

    monkeypatch.setattr(new_cluster.os, "rename", crash)
    with pytest.raises(OSError, match="simulated crash"):
        seed(config, old_state())
    # What was written waits under the temporary name, which no node's config names.
    assert not data_dir.exists()
    assert (data_dir.with_name(data_dir.name + SEEDING_SUFFIX) / "MEMBER").exists()

    monkeypatch.undo()
    cluster_id = seed(config, old_state(count=2))
    assert not data_dir.with_name(data_dir.name + SEEDING_SUFFIX).exists()
    async with recovered(config) as (_, applied):
        assert sorted(applied.db.db["tasks"]) == ["t1", "t2"]
        assert applied.cluster.cluster_id == cluster_id


async def test_what_a_seeding_interrupted_while_writing_left_is_cleared_by_the_next(tmp_path):
    config = load(write_config(tmp_path / "node"))
    data_dir = config.node.data_dir
    leftover = data_dir.with_name(data_dir.name + SEEDING_SUFFIX)
    (leftover / "snapshots").mkdir(parents=True)
    (leftover / "snapshots" / f"snap-{9:016d}-{1:016d}.json").write_bytes(b'{"tasks": {"half')
    (leftover / "wal").mkdir()
    (leftover / "wal" / "wal-0000000000000001.log").write_bytes(b"\x01\x02")
    cluster_id = seed(config, old_state(count=3))
    assert sorted(p.name for p in (data_dir / "snapshots").iterdir()) == [
        f"snap-{INDEX:016d}-{TERM:016d}.json"
    ]
    async with recovered(config) as (core, applied):
        assert sorted(applied.db.db["tasks"]) == ["t1", "t2", "t3"]
        assert applied.cluster.cluster_id == cluster_id and core.log.last_index == INDEX

"""``todonode recover --force-new-cluster`` on a stopped node's data directory (node/forced_recovery.py,
recover_cli.py): what it counts as committed, the confirmation it needs, and the old directory it keeps
beside the new one, untouched."""

from __future__ import annotations

import asyncio
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from todonode.api.keys import NODE
from todonode.cluster_state import set_version_command
from todonode.config import Config
from todonode.node.forced_recovery import NothingHeld, aside_path, read_held
from todonode.raft import Entry, HardState
from todonode.recover_cli import Ask, Refused, recover, report
from todonode.storage import DataDirLocked, WriteAheadLog, member_file
from todonode.storage.lock import DataDirLock
from todonode.versions import CLUSTER_VERSIONS, ClusterTooNew

from ..api.conftest import SECRET, load, serve, write_config
from .test_recovery import _write_disk, recovered

NOW = datetime(2026, 12, 1, 21, 30, 5, tzinfo=UTC)


async def test_every_entry_of_the_log_is_applied_and_those_after_the_commit_index_are_counted(tmp_path):
    config = load(write_config(tmp_path / "node"))
    entries = await _write_disk(config.node.data_dir, (config.node.id, "node2", "node3"))
    wal, _ = WriteAheadLog.open(config.node.data_dir / "wal")
    wal.write(HardState(term=1, vote=config.node.id, commit=10), [])  # two entries short of its log
    wal.close()
    held = await read_held(config, None)
    assert (held.index, held.last_term, held.commit, held.term) == (12, 1, 10, 1)
    assert held.uncommitted == {"create": 2} and held.uncommitted_count == 2
    assert held.voters == (config.node.id, "node2", "node3")
    assert held.tasks == 12 and sorted(held.state["tasks"]) == sorted(f"t{e.index}" for e in entries)
    said = report(config, held, aside_path(config.node.data_dir, NOW))
    assert "Will now count as committed: the 2 entries after index 10 (2 create)" in said


async def test_a_log_that_moved_the_cluster_to_a_version_this_release_cannot_run_is_refused(tmp_path):
    config = load(write_config(tmp_path / "node"))
    await _write_disk(config.node.data_dir, (config.node.id,))
    wal, _ = WriteAheadLog.open(config.node.data_dir / "wal")
    newer = max(CLUSTER_VERSIONS) + 1
    wal.write(None, [Entry(term=1, index=13, data=orjson.dumps(set_version_command(newer)))])
    wal.close()
    with pytest.raises(ClusterTooNew):
        await read_held(config, None)


async def test_a_directory_no_node_wrote_holds_nothing_to_recover(tmp_path):
    config = load(write_config(tmp_path / "node"))
    config.node.data_dir.mkdir(mode=0o700)
    with pytest.raises(NothingHeld):
        await read_held(config, None)


# ------------------------------------------------------------------------------------ the command


async def _node_wrote(config: Config, titles: list[str]) -> None:
    """Run the node of ``config`` in this process, write ``titles``, and stop it."""
    async with serve(config) as client:
        for title in titles:
            assert (await client.post("/tasks", json={"title": title})).status == 201
        assert client.app[NODE].cluster_id is not None


def stopped_node(tmp_path: Path, titles: list[str]) -> Config:
    config = load(write_config(tmp_path / "node"))
    asyncio.run(_node_wrote(config, titles))
    return config


def files(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` and its bytes, but the lock: its holder writes its PID there."""
    found = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != "LOCK")
    return {str(p.relative_to(directory)): p.read_bytes() for p in found}


def typed(text: str) -> Ask:
    return lambda prompt: text + "\n"


def test_without_a_terminal_or_yes_it_refuses_and_changes_nothing(tmp_path, capsys):
    config = stopped_node(tmp_path, ["a", "b"])
    before = files(config.node.data_dir)
    with pytest.raises(Refused, match=r"refusing without confirmation.*nothing was changed"):
        recover(config, yes=False, ask=None, now=NOW)
    assert files(config.node.data_dir) == before
    assert not aside_path(config.node.data_dir, NOW).exists()
    # What it would have done was said first.
    said = capsys.readouterr().out
    assert "May be lost: every write the other voters acknowledged" in said and "tasks:           2" in said


def test_typing_another_id_than_the_node_s_refuses_and_changes_nothing(tmp_path):
    config = stopped_node(tmp_path, ["a"])
    before = files(config.node.data_dir)
    with pytest.raises(Refused, match="not confirmed"):
        recover(config, yes=False, ask=typed("node1"), now=NOW)
    assert files(config.node.data_dir) == before


def test_the_lock_of_a_running_node_refuses_it(tmp_path):
    config = stopped_node(tmp_path, ["a"])
    before = files(config.node.data_dir)
    with DataDirLock(config.node.data_dir), pytest.raises(DataDirLocked):  # as a running node holds it
        recover(config, yes=True, ask=None, now=NOW)
    assert files(config.node.data_dir) == before


def test_typing_the_node_id_sets_the_old_directory_aside_untouched_and_seeds_a_new_cluster(tmp_path, capsys):
    config = stopped_node(tmp_path, ["a", "b", "c"])
    data_dir = config.node.data_dir
    old_id = asyncio.run(read_held(config, None)).cluster_id
    before = files(data_dir)
    recover(config, yes=False, ask=typed(config.node.id), now=NOW)
    aside = data_dir.with_name(f"{data_dir.name}.before-recover-20261201T213005Z")
    assert files(aside) == before
    said = capsys.readouterr().out
    assert f"moved the old data directory to {aside}" in said

    async def reopened() -> None:
        async with recovered(config) as (core, applied):
            assert sorted(t.title for t in applied.db.db["tasks"].values()) == ["a", "b", "c"]
            assert core.config.voters == (config.node.id,)

    asyncio.run(reopened())
    new_id = asyncio.run(read_held(config, member_file.load(data_dir))).cluster_id
    assert new_id is not None and old_id is not None and new_id != old_id
    assert f"the only member of the new cluster {new_id}" in said


def test_the_node_id_typed_on_a_terminal_confirms(tmp_path):
    config = stopped_node(tmp_path, ["a"])
    controller, terminal = pty.openpty()
    command = [sys.executable, "-m", "todonode.cli", "recover", "--force-new-cluster", "-c", str(config.path)]
    env = {**os.environ, "TODONODE_SECRET": SECRET}
    pipe = subprocess.PIPE
    proc = subprocess.Popen(command, stdin=terminal, stdout=pipe, stderr=pipe, text=True, env=env)
    try:
        os.write(controller, f"{config.node.id}\n".encode())  # waits in the terminal until it is read
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
        os.close(controller)
        os.close(terminal)
    assert proc.returncode == 0, err
    assert err == f"Type the node id ({config.node.id}) to make it the only member of a new cluster: "
    assert "moved the old data directory to" in out and "is the only member of the new cluster" in out

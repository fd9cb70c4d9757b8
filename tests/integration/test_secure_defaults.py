"""What a real node refuses to start with, in one line naming the thing and the fix, and what it leaves
on disk: a data directory only its user can open, even when started with a umask that would allow
anyone."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

from .harness import SECRET, Client, NodeProcess, ProcessCluster, find_leader, free_port, wait_for


def node_command(config: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TODONODE_")}
    command = [sys.executable, "-m", "todonode.cli", "--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def one_line(result: subprocess.CompletedProcess[str], status: int) -> str:
    assert result.returncode == status, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("todonode: "), result.stderr
    return lines[0]


async def test_a_data_directory_open_to_others_is_refused_at_start(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    config = tmp_path / "node.toml"
    port = free_port()
    config.write_text(
        f'[node]\nport = {port}\ndata_dir = "{data}"\n'
        f'[cluster]\nnodes = ["http://127.0.0.1:{port}"]\nsecret = "{SECRET}"\n'
    )

    line = one_line(await asyncio.to_thread(node_command, config), 1)

    fix = f"make it private: chmod 700 {data}"
    assert line == f"todonode: data directory {data} is open to other users (mode 0755); {fix}"
    assert list(data.iterdir()) == []


async def test_a_secret_file_open_to_others_is_refused_at_start(tmp_path: Path):
    secret = tmp_path / "cluster.secret"
    secret.write_text(SECRET)
    secret.chmod(0o644)
    config = tmp_path / "node.toml"
    config.write_text(
        '[node]\nport = 4000\n[cluster]\nnodes = ["http://127.0.0.1:4000"]\nsecret_file = "cluster.secret"\n'
    )

    line = one_line(await asyncio.to_thread(node_command, config), 2)

    assert line == (
        f"todonode: {config}: cluster.secret_file: {secret} is open to other users (mode 0644); "
        f"make it private: chmod 600 {secret}"
    )


class OpenUmaskCluster(ProcessCluster):
    """Nodes started with umask 0: whatever they make private, they make so themselves."""

    def command(self, node: NodeProcess) -> list[str]:
        start = "import os, sys; os.umask(0); from todonode.cli import main; sys.exit(main())"
        return [self.python, "-c", start, "--config", str(node.config), "--log-level", "info"]


async def test_a_node_keeps_everything_private_whatever_its_umask(tmp_path: Path, client: Client):
    cluster = OpenUmaskCluster(tmp_path / "cluster", 3, storage={"snapshot_every": 5}, log_level="info")
    try:
        cluster.start_all()
        leader = await find_leader(client, cluster)
        for n in range(12):  # past snapshot_every: snapshots are written too
            code, _, _ = await client.call("POST", leader.url + "/tasks", {"title": f"private {n}"})
            assert code == 201

        async def snapshotted() -> bool:  # and so up, its signal handlers set: SIGTERM stops it gracefully
            snapshots = [cluster.root / f"data{node.port}" / "snapshots" for node in cluster.nodes]
            return all(any(directory.glob("snap-*.json")) for directory in snapshots)

        await wait_for(snapshotted, 30, "a snapshot on every node")
        for i in range(cluster.size):
            assert cluster.terminate(i) == 0
    finally:
        cluster.close()

    for node in cluster.nodes:
        data = cluster.root / f"data{node.port}"
        made = [data, *data.rglob("*")]
        modes = {str(path.relative_to(data)): stat.S_IMODE(path.stat().st_mode) for path in made}
        assert modes == {name: 0o700 if (data / name).is_dir() else 0o600 for name in modes}, node.id

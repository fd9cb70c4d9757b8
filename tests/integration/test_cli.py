"""The `todonode` command as people use it: the client commands as subprocesses against a real cluster,
`todonode run --config` next to the original `todonode --config`, and the one-line errors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .harness import SECRET, Client, NodeProcess, ProcessCluster, find_leader, wait_for

TIMINGS = {"write_wait_ms": 1000, "leader_settle_ms": 60_000}  # no hand-back to the lowest port


def todonode(*args: str, secret: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TODONODE_")}
    if secret:
        env["TODONODE_SECRET"] = SECRET
    command = [sys.executable, "-m", "todonode.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)


async def run(*args: str, secret: bool = False) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(todonode, *args, secret=secret)


async def all_follow(client: Client, cluster: ProcessCluster, leader: NodeProcess) -> bool:
    statuses = await asyncio.gather(*(client.status(node) for node in cluster.nodes))
    return all(status is not None and status["leader"] == leader.url for status in statuses)


def one_line_error(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    assert result.returncode == status, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("todonode: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


async def test_the_client_manages_tasks_through_a_follower(make_cluster, client: Client):
    cluster = make_cluster(3, timings=TIMINGS, log_level="info")
    cluster.start_all()
    leader = await find_leader(client, cluster)
    url = next(node for node in cluster.nodes if node is not leader).url
    await wait_for(lambda: all_follow(client, cluster, leader), 20, "every node to know the leader")

    added = await run("tasks", "add", "Buy milk", "--url", url)
    assert added.returncode == 0 and "Buy milk" in added.stdout, added.stderr
    added = await run("tasks", "add", " Walk the dog ", "Call mum", "--url", url)
    assert added.stdout.count("added") == 2, added.stderr

    listed = await run("tasks", "list", "--url", url)
    lines = listed.stdout.strip().splitlines()
    assert [line.split("] ", 1)[1] for line in lines[:3]] == ["Call mum", "Walk the dog", "Buy milk"]
    assert lines[-1] == "3 tasks, 0 completed"
    milk = next(line for line in lines if "Buy milk" in line).split()[0]  # the short id

    done = await run("tasks", "done", milk[:6], "--url", url)
    assert done.returncode == 0 and "[x] Buy milk" in done.stdout, done.stderr
    edited = await run("tasks", "edit", milk, "Buy oat milk", "--url", url)
    assert "[x] Buy oat milk" in edited.stdout, edited.stderr
    assert "Buy oat milk" in (await run("tasks", "list", "--completed", "--url", url)).stdout
    assert "Buy oat milk" not in (await run("tasks", "list", "--active", "--url", url)).stdout

    cleared = await run("tasks", "clear-completed", "--url", url)
    assert cleared.stdout.strip() == "deleted 1 completed task", cleared.stderr
    listed = await run("tasks", "list", "--url", url)
    dog = next(line for line in listed.stdout.splitlines() if "dog" in line)
    removed = await run("tasks", "rm", dog.split()[0], "--url", url)
    assert removed.returncode == 0 and removed.stdout.startswith("deleted "), removed.stderr
    final = await run("tasks", "list", "--url", leader.url)
    assert final.stdout.strip().splitlines() == [final.stdout.splitlines()[0], "1 task, 0 completed"]
    assert "Call mum" in final.stdout

    missing = await run("tasks", "done", "ffffffff", "--url", url)
    assert "no task with an id starting 'ffffffff'" in one_line_error(missing)
    refused = await run("tasks", "add", "", "--url", url)
    assert "title must be 1 to 500 characters" in one_line_error(refused)


async def test_cluster_status_is_a_table_and_transfer_leader_moves_the_leadership(
    make_cluster, client: Client
):
    cluster = make_cluster(3, timings=TIMINGS, log_level="info")
    cluster.start_all()
    leader = await find_leader(client, cluster)
    follower = next(node for node in cluster.nodes if node is not leader)
    target = next(node for node in cluster.nodes if node not in (leader, follower))
    await wait_for(lambda: all_follow(client, cluster, leader), 20, "every node to know the leader")

    table = await run("cluster", "status", "--url", follower.url)
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith(f"leader {leader.id}, term ")
    header, *rows = table.stdout.strip().splitlines()[1:-1]
    assert header.split()[:3] == ["NODE", "URL", "ROLE"]
    assert sorted(row.split()[0] for row in rows) == sorted(node.id for node in cluster.nodes)
    assert any(row.startswith(f"{follower.id} *") for row in rows)

    unauthorized = await run("cluster", "transfer-leader", target.id, "--url", follower.url)
    assert "needs the admin token (api.admin_token) or the cluster's credentials" in one_line_error(
        unauthorized
    )

    # --config gives the node's URL and, with TODONODE_SECRET as the nodes have it, the secret.
    moved = await run("cluster", "transfer-leader", target.id, "--config", str(follower.config), secret=True)
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.startswith(f"{target.id} leads now (term ")
    assert (await find_leader(client, cluster)) is target


async def test_errors_are_one_line_that_says_what_to_do(make_cluster, client: Client, tmp_path: Path):
    refused = await run("tasks", "list", "--url", "http://127.0.0.1:9")
    line = one_line_error(refused)
    assert "http://127.0.0.1:9" in line and "connection refused" in line and "--url" in line

    bad_url = await run("tasks", "list", "--url", "localhost:4000")
    assert "--url must be a node's URL" in one_line_error(bad_url, 2)
    bad_config = await run("tasks", "list", "--config", str(tmp_path / "missing.toml"))
    assert "missing.toml" in one_line_error(bad_config, 2)

    cluster = make_cluster(3, timings=TIMINGS, log_level="info")
    cluster.start_all()
    leader = await find_leader(client, cluster)
    for node in cluster.nodes:
        if node is not leader:
            cluster.kill(node.index)
    lost = await run("tasks", "add", "no quorum", "--url", leader.url)
    assert "1 of 3 nodes reachable; 2 needed" in one_line_error(lost)


class RunCommandCluster(ProcessCluster):
    def command(self, node: NodeProcess) -> list[str]:
        return [self.python, "-m", "todonode.cli", "run", "--config", str(node.config), "--log-level", "info"]


async def test_run_is_the_same_as_the_original_form(tmp_path: Path, client: Client):
    cluster = RunCommandCluster(tmp_path / "run", 1)
    try:
        cluster.start_all()
        (node,) = cluster.nodes
        await wait_for(lambda: client.status(node), 20, "the node started with `todonode run`")
        assert (await run("tasks", "add", "started with run", "--url", node.url)).returncode == 0
        assert cluster.terminate(0) == 0
    finally:
        cluster.close()
    version = todonode("--version")
    assert version.returncode == 0 and version.stdout.startswith("todonode ")
    usage = todonode("--help")
    assert "todonode tasks list" in usage.stdout and "--config" in usage.stdout


async def test_a_node_refuses_to_listen_beyond_loopback_without_tls(tmp_path: Path):
    config = tmp_path / "open.toml"
    config.write_text(
        '[node]\nhost = "0.0.0.0"\nport = 4000\n'
        f'[cluster]\nnodes = ["http://0.0.0.0:4000"]\nsecret = "{SECRET}"\n'
    )
    line = one_line_error(await run("--config", str(config)), 2)
    assert line.startswith(f"todonode: {config}: node.host: '0.0.0.0' is reachable from other machines")
    assert "[tls] cert_file and key_file" in line and "node.insecure_plaintext = true" in line


async def test_a_node_refuses_the_example_secret_even_on_loopback(tmp_path: Path):
    config = tmp_path / "example.toml"
    config.write_text(
        '[node]\nport = 4000\n[cluster]\nnodes = ["http://127.0.0.1:4000"]\nsecret = "change-me"\n'
    )
    line = one_line_error(await run("--config", str(config)), 2)
    assert f"{config}: cluster.secret: is too weak" in line


@pytest.mark.parametrize("choice", ["auto", "asyncio"])
async def test_a_node_runs_on_the_event_loop_its_config_names(tmp_path: Path, client: Client, choice: str):
    cluster = ProcessCluster(tmp_path / choice, 1, log_level="info")
    (node,) = cluster.nodes
    text = node.config.read_text()
    node.config.write_text(text.replace("[node]\n", f'[node]\nevent_loop = "{choice}"\n', 1))
    try:
        cluster.start_all()
        await wait_for(lambda: client.status(node), 20, f"the node on the {choice} event loop")
        assert (await run("tasks", "add", "on any loop", "--url", node.url)).returncode == 0
        expected = "uvloop" if choice == "auto" else "asyncio"  # uvloop is a dependency on Linux
        assert f"event loop {expected})" in node.log.read_text()
    finally:
        cluster.close()


async def test_asking_for_uvloop_where_it_is_missing_is_a_config_error(tmp_path: Path):
    config = tmp_path / "uv.toml"
    config.write_text(
        '[node]\nport = 4000\nevent_loop = "uvloop"\n'
        f'[cluster]\nnodes = ["http://127.0.0.1:4000"]\nsecret = "{SECRET}"\n'
    )
    hide_uvloop = "import sys; sys.modules['uvloop'] = None; from todonode.cli import main; sys.exit(main())"
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", hide_uvloop, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = one_line_error(result, 2)
    assert "node.event_loop" in line and "uvloop is not installed" in line

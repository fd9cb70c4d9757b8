"""A real ``todonode`` process on its own: durability across kill -9, and the command line's manners."""

import asyncio
import socket
import subprocess
import sys

from .harness import SECRET, find_leader, free_port, wait_for


async def test_kill_9_loses_no_acknowledged_write(make_cluster, client):
    cluster = make_cluster(1, storage={"snapshot_every": 300})
    cluster.start_all()
    node = await find_leader(client, cluster)
    acked: dict[str, dict] = {}

    async def writer(worker: int) -> None:
        for i in range(50):
            code, body, _ = await client.call("POST", node.url + "/tasks", {"title": f"task {worker}-{i}"})
            assert code == 201, body
            acked[body["id"]] = body

    await asyncio.gather(*(writer(w) for w in range(20)))
    assert len(acked) == 1000
    cluster.kill(0)
    cluster.start(0)
    await find_leader(client, cluster)
    # Strong: a restarted node re-applies its log only once it commits again in its new term, and a
    # local read may come before that; a linearizable read must see every acknowledged write.
    tasks = await client.tasks(node, consistency="strong")
    assert {t["id"]: t for t in tasks} == acked  # every acknowledged task, byte for byte


async def test_sigterm_stops_the_node_cleanly(make_cluster, client):
    cluster = make_cluster(1)
    cluster.start_all()
    await find_leader(client, cluster)
    assert cluster.terminate(0) == 0


def _run(args, cwd, timeout=20):
    env = {"TODONODE_SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "todonode.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


async def test_a_second_process_cannot_share_the_data_directory(make_cluster, client):
    cluster = make_cluster(1)
    cluster.start_all()
    await find_leader(client, cluster)
    # Same data directory, another port: only the lock can stop it.
    port = free_port()
    data_dir = cluster.root / f"data{cluster.nodes[0].port}"
    clash = cluster.root / "clash.toml"
    clash.write_text(
        f'[node]\nhost = "127.0.0.1"\nport = {port}\ndata_dir = "{data_dir}"\n'
        f'[cluster]\nnodes = ["http://127.0.0.1:{port}"]\n'
    )
    result = await asyncio.to_thread(_run, ["--config", str(clash)], cluster.root)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "data" in result.stderr and str(cluster.nodes[0].proc.pid) in result.stderr


async def test_a_port_in_use_is_one_clear_line(make_cluster):
    cluster = make_cluster(1)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", cluster.nodes[0].port))
        squatter.listen()
        result = await asyncio.to_thread(_run, ["--config", str(cluster.nodes[0].config)], cluster.root)
    assert result.returncode == 1
    assert "already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_config_exits_2_naming_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[node]\nport = 4000\n[cluster]\nnodes = ["http://127.0.0.1:4000"]\nheartbeat_ms = "fast"\n'
    )
    result = _run(["--config", str(bad)], tmp_path)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "bad.toml" in line and "cluster.heartbeat_ms" in line and "\n" not in line


def test_version_is_printed():
    result = _run(["--version", "--config", "x"], ".")
    assert result.returncode == 0 and result.stdout.startswith("todonode ")


async def test_a_restarted_node_serves_reads_before_anything_else(make_cluster, client):
    cluster = make_cluster(1)
    cluster.start_all()
    node = await find_leader(client, cluster)
    code, created, _ = await client.call("POST", node.url + "/tasks", {"title": "survives"})
    assert code == 201
    cluster.kill(0)
    cluster.start(0)
    tasks = await wait_for(lambda: client.tasks(node), 10, "the restarted node to answer")
    assert [t["id"] for t in tasks] == [created["id"]]

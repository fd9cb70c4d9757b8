"""`todonode tasks export` and `todonode tasks import` as subprocesses against real clusters: the list
goes out to a file and comes back equal, an import cut short by a kill is run again without a single
duplicate, and a file with a bad line is refused whole, naming the line, before anything is sent."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .harness import Client, NodeProcess, ProcessCluster, find_leader, wait_for
from .test_cli import TIMINGS, one_line_error, run


async def cluster_version_2(client: Client, cluster: ProcessCluster) -> None:
    """Wait until every node has the cluster at version 2, from which import is allowed."""

    async def there() -> bool:
        statuses = await asyncio.gather(*(client.status(node) for node in cluster.nodes))
        return all(s is not None and s["cluster_version"] >= 2 for s in statuses)

    await wait_for(there, 30, "the cluster to run at cluster version 2")


async def add_tasks(client: Client, node: NodeProcess, count: int, title: str = "task") -> None:
    for start in range(0, count, 1000):
        batch = [{"title": f"{title} {n}"} for n in range(start, min(count, start + 1000))]
        code, body, _ = await client.call("POST", node.url + "/tasks/batch", {"tasks": batch}, timeout=20)
        assert code == 201, body


async def every_task(client: Client, node: NodeProcess) -> list[dict[str, Any]]:
    tasks = await client.tasks(node, consistency="strong")
    assert tasks is not None
    return tasks[::-1]  # oldest first, as an export is


def without_seq(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{name: value for name, value in task.items() if name != "seq"} for task in tasks]


async def test_a_list_exported_cleared_and_imported_through_a_follower_comes_back_equal(
    make_cluster, client: Client, tmp_path: Path
):
    cluster = make_cluster(3, timings=TIMINGS)
    cluster.start_all()
    leader = await find_leader(client, cluster)
    follower = next(node for node in cluster.nodes if node is not leader)
    await cluster_version_2(client, cluster)
    await add_tasks(client, leader, 2500)
    for task in (await every_task(client, leader))[::5]:
        code, _, _ = await client.call("PATCH", f"{leader.url}/tasks/{task['id']}", {"completed": True})
        assert code == 200
    before = await every_task(client, leader)

    files = tmp_path / "files"
    files.mkdir()
    out = files / "list.jsonl"
    exported = await run("tasks", "export", "--out", str(out), "--url", follower.url)
    assert exported.returncode == 0, exported.stderr
    assert "exported 2,500 tasks at log index" in exported.stderr and str(out) in exported.stderr
    assert [json.loads(line) for line in out.read_text().splitlines()] == before
    assert list(files.iterdir()) == [out]  # the temporary file became the file

    code, body, _ = await client.call("DELETE", f"{follower.url}/tasks?all=true")
    assert code == 200 and body == {"deleted": 2500}
    imported = await run("tasks", "import", str(out), "--url", follower.url)
    assert imported.returncode == 0, imported.stderr
    assert imported.stderr.strip().endswith("2,500 tasks created, 0 skipped as already present")
    assert without_seq(await every_task(client, leader)) == without_seq(before)

    again = await run("tasks", "import", str(out), "--url", leader.url)
    assert again.stderr.strip().endswith("0 tasks created, 2,500 skipped as already present"), again.stderr
    assert len(await every_task(client, follower)) == 2500

    streamed = await run("tasks", "export", "--url", leader.url, "--local")
    assert streamed.returncode == 0, streamed.stderr
    assert without_seq([json.loads(line) for line in streamed.stdout.splitlines()]) == without_seq(before)


async def test_an_import_killed_after_some_chunks_run_again_gives_each_task_once(
    make_cluster, client: Client, tmp_path: Path
):
    cluster = make_cluster(1, timings=TIMINGS)
    cluster.start_all()
    node = await find_leader(client, cluster)
    await cluster_version_2(client, cluster)
    source = make_cluster(1, timings=TIMINGS)
    source.start_all()
    origin = await find_leader(client, source)
    await add_tasks(client, origin, 3000)
    out = tmp_path / "list.jsonl"
    assert (await run("tasks", "export", "--out", str(out), "--url", origin.url)).returncode == 0

    command = [sys.executable, "-m", "todonode.cli", "tasks", "import", str(out), "--chunk", "10"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("TODONODE_")}
    first = subprocess.Popen([*command, "--url", node.url], env=env, stderr=subprocess.PIPE)
    try:

        async def some_chunks_in() -> bool:
            code, body, _ = await client.call("GET", f"{node.url}/tasks?limit=1000")
            return code == 200 and len(body["tasks"]) >= 50

        await wait_for(some_chunks_in, 60, "the import to have sent a few chunks")
    finally:
        first.kill()  # by its PID, at whatever point of its run it is
        first.wait()
    assert first.returncode == -9, "the import finished before it could be cut short"
    cut_short = len(await every_task(client, node))
    assert 50 <= cut_short < 3000

    again = await run("tasks", "import", str(out), "--url", node.url)
    assert again.returncode == 0, again.stderr
    created, skipped = 3000 - cut_short, cut_short
    assert again.stderr.strip().endswith(
        f"{created:,} tasks created, {skipped:,} skipped as already present"
    ), again.stderr
    tasks = await every_task(client, node)
    assert len({task["id"] for task in tasks}) == len(tasks) == 3000
    assert without_seq(tasks) == without_seq(await every_task(client, origin))


async def test_a_file_with_bad_lines_is_refused_by_line_number_and_nothing_is_sent(
    make_cluster, client: Client, tmp_path: Path
):
    cluster = make_cluster(1, timings=TIMINGS)
    cluster.start_all()
    node = await find_leader(client, cluster)
    await cluster_version_2(client, cluster)
    good = {
        "id": "0b6f3c1e-8a4d-4f7a-9b2c-5d6e7f8a9b0c",
        "title": "fine",
        "completed": False,
        "created_at": "2026-12-01T15:08:26.002Z",
        "updated_at": "2026-12-01T15:08:26.002Z",
        "version": 1,
        "seq": 1,
    }
    lines = [
        json.dumps(good),
        json.dumps({**good, "id": "1b6f3c1e-8a4d-4f7a-9b2c-5d6e7f8a9b0c", "title": "two\nlines"}),
        json.dumps({**good, "id": "2b6f3c1e-8a4d-4f7a-9b2c-5d6e7f8a9b0c"}),
        '{"id": "3b6f3c1e-8a4d-4f7a-9b2c-5d6e7f8a9b0c", "title": "cut',
        json.dumps(
            {**good, "id": "4b6f3c1e-8a4d-4f7a-9b2c-5d6e7f8a9b0c", "updated_at": "2026-02-30T00:00:00.000Z"}
        ),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = await run("tasks", "import", str(path), "--url", node.url)
    assert result.returncode == 1, result.stderr
    reported = result.stderr.strip().splitlines()
    assert reported[0] == f"{path}:2: title must not contain control characters such as newlines"
    assert reported[1].startswith(f"{path}:4: not JSON")
    assert (
        reported[2]
        == f"{path}:5: updated_at must be a UTC time with milliseconds such as 2026-12-01T15:08:26.002Z"
    )
    assert (
        reported[3]
        == f"todonode: nothing was imported: 3 wrong line(s) in {path}; correct them and run the import again"
    )
    assert await every_task(client, node) == []

    missing = await run("tasks", "import", str(tmp_path / "nowhere.jsonl"), "--url", node.url)
    assert "cannot read" in one_line_error(missing)

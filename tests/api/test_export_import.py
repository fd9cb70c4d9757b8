"""GET /tasks/export and POST /tasks/import (docs/api.md#export-and-import) on one-node clusters: an
export holds every field of every task at one index, streams, and stops when its client leaves; an
import gives back equal tasks, skips ids present, is refused whole when bad or over quota, and only
once the cluster runs a version every node of which knows it."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from todonode.api import export_import
from todonode.api.keys import NODE
from todonode.api.tasks import PAGE_TURNS

from .conftest import wait_until


def imported(title: str = "task", **fields: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "title": title,
        "completed": False,
        "created_at": "2025-06-07T08:09:10.011Z",
        "updated_at": "2025-06-07T08:09:10.011Z",
        **fields,
    }


async def add_many(client: TestClient, count: int, title: str = "task") -> None:
    for start in range(0, count, 1000):
        batch = [{"title": f"{title} {n}"} for n in range(start, min(count, start + 1000))]
        resp = await client.post("/tasks/batch", json={"tasks": batch})
        assert resp.status == 201, await resp.text()


async def every_task(client: TestClient) -> list[dict[str, Any]]:
    """Every task through GET /tasks, oldest first."""
    tasks: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = await (await client.get(f"/tasks?limit=1000{cursor}")).json()
        tasks += page["tasks"]
        if page["next_cursor"] is None:
            return tasks[::-1]
        cursor = f"&cursor={page['next_cursor']}"


async def exported(client: TestClient, query: str = "") -> tuple[int, list[dict[str, Any]]]:
    resp = await client.get("/tasks/export" + query)
    assert resp.status == 200, await resp.text()
    lines = (await resp.read()).decode().splitlines()
    return int(resp.headers["X-Todonode-Export-Index"]), [json.loads(line) for line in lines]


async def import_chunk(client: TestClient, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    resp = await client.post("/tasks/import", json={"tasks": tasks})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def without_seq(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{name: value for name, value in task.items() if name != "seq"} for task in tasks]


# ============================================================================================ export


async def test_export_is_every_field_of_every_task_oldest_first_as_a_download(client, node):
    await add_many(client, 5)
    first = (await every_task(client))[0]
    resp = await client.patch(f"/tasks/{first['id']}", json={"completed": True})
    assert resp.status == 200
    resp = await client.get("/tasks/export")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/x-ndjson"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="todonode-tasks-')
    assert resp.headers["X-Todonode-Export-Index"] == resp.headers["X-Todonode-Applied-Index"]
    assert int(resp.headers["X-Todonode-Export-Index"]) == node.applied
    body = await resp.read()
    assert body.endswith(b"\n")
    assert [json.loads(line) for line in body.splitlines()] == await every_task(client)


async def test_an_empty_list_exports_as_an_empty_file(client):
    index, tasks = await exported(client)
    assert tasks == [] and index >= 1


async def test_export_holds_the_tasks_at_its_index_while_writes_go_on(client, node, monkeypatch):
    """The writes land after the export has begun and before it encodes a single task (the test
    holds the turn every chunk waits for), and change tasks it has yet to send."""
    monkeypatch.setattr(export_import, "EXPORT_CHUNK", 10)
    await add_many(client, 100)
    before = await every_task(client)
    last, second_last = before[-1], before[-2]
    async with client.app[PAGE_TURNS]:
        resp = await client.get("/tasks/export")
        index = int(resp.headers["X-Todonode-Export-Index"])
        changes = [
            client.patch(f"/tasks/{last['id']}", json={"title": "changed", "completed": True}),
            client.delete(f"/tasks/{second_last['id']}"),
            client.post("/tasks", json={"title": "new"}),
        ]
        for change in changes:
            assert (await change).status < 300
        assert node.applied > index
    assert [json.loads(line) for line in (await resp.read()).splitlines()] == before
    after = {task["id"]: task for task in await every_task(client)}
    assert after[last["id"]]["title"] == "changed" and second_last["id"] not in after


async def test_export_takes_the_read_consistency_options(client, node):
    await add_many(client, 3)
    index, tasks = await exported(client, "?consistency=strong")
    assert len(tasks) == 3 and index == node.applied
    _, tasks = await exported(client, f"?min_index={node.applied}")
    assert len(tasks) == 3
    resp = await client.get(f"/tasks/export?min_index={node.applied + 10**6}")
    assert resp.status == 400 and (await resp.json())["field"] == "min_index"


async def test_a_client_that_leaves_stops_the_export(client, monkeypatch, caplog):
    monkeypatch.setattr(export_import, "EXPORT_CHUNK", 10)
    await add_many(client, 5000)
    encoded = 0
    finished = asyncio.Event()
    encode, chunks = export_import._line, export_import._chunks

    def counting(task: dict[str, Any]) -> bytes:
        nonlocal encoded
        encoded += 1
        return encode(task)

    def watched(tasks: Any) -> Any:
        try:
            yield from chunks(tasks)
        finally:  # the handler is done with the chunks, whether it sent them all or stopped
            finished.set()

    monkeypatch.setattr(export_import, "_line", counting)
    monkeypatch.setattr(export_import, "_chunks", watched)
    caplog.set_level(logging.ERROR)
    async with client.app[PAGE_TURNS]:  # the first chunk waits for its turn until the client left
        resp = await client.get("/tasks/export")
        resp.close()
    await asyncio.wait_for(finished.wait(), 10)
    assert 0 < encoded < 5000 / 2
    assert "unexpected error" not in caplog.text


async def test_export_and_import_are_not_task_ids(client):
    assert (await client.post("/tasks/export")).status == 405
    assert (await client.get("/tasks/import")).status == 405


# ============================================================================================ import


async def test_an_export_imported_into_an_empty_cluster_gives_equal_tasks(make_client):
    async with make_client() as source:
        await add_many(source, 2500)
        tasks = await every_task(source)
        for task in tasks[::7]:
            assert (await source.patch(f"/tasks/{task['id']}", json={"completed": True})).status == 200
        for task in tasks[3::11]:
            assert (await source.delete(f"/tasks/{task['id']}")).status == 200
        _, original = await exported(source)
    async with make_client() as target:
        for start in range(0, len(original), 1000):
            chunk = without_seq(original[start : start + 1000])
            assert await import_chunk(target, chunk) == {"created": len(chunk), "skipped": 0}
        _, copy = await exported(target)
    assert without_seq(copy) == without_seq(original)
    assert [task["seq"] for task in copy] == list(range(1, len(original) + 1))


async def test_an_import_sent_again_skips_every_task_and_changes_none(client):
    chunk = [imported("one"), imported("two", completed=True, version=3)]
    assert await import_chunk(client, chunk) == {"created": 2, "skipped": 0}
    resp = await client.patch(f"/tasks/{chunk[0]['id']}", json={"title": "changed here"})
    assert resp.status == 200
    assert await import_chunk(client, [*chunk, imported("three")]) == {"created": 1, "skipped": 2}
    tasks = {task["id"]: task for task in await every_task(client)}
    assert tasks[chunk[0]["id"]]["title"] == "changed here"
    assert tasks[chunk[1]["id"]]["version"] == 3 and tasks[chunk[1]["id"]]["completed"] is True
    assert len(tasks) == 3


async def test_an_interrupted_import_run_again_gives_each_task_once(client):
    tasks = [imported(f"task {n}", completed=n % 2 == 0) for n in range(50)]
    chunks = [tasks[start : start + 10] for start in range(0, 50, 10)]
    for chunk in chunks[:2]:
        await import_chunk(client, chunk)
    answers = [await import_chunk(client, chunk) for chunk in chunks]
    assert sum(a["created"] for a in answers) == 30 and sum(a["skipped"] for a in answers) == 20
    assert without_seq(await every_task(client)) == [{**task, "version": 1} for task in tasks]


async def test_a_version_written_with_a_zero_fraction_is_the_whole_number(client):
    await import_chunk(client, [imported(version=3.0)])
    assert (await every_task(client))[0]["version"] == 3


async def test_imported_titles_are_trimmed_as_a_create_trims_them(client):
    task = imported("  spaced  ")
    await import_chunk(client, [task])
    assert (await every_task(client))[0]["title"] == "spaced"


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"id": "not-a-uuid"}, 422, "tasks[1].id"),
        ({"id": str(uuid.uuid4()).upper()}, 422, "tasks[1].id"),
        ({"title": "two\nlines"}, 422, "tasks[1].title"),
        ({"title": ""}, 422, "tasks[1].title"),
        ({"completed": "yes"}, 400, "tasks[1].completed"),
        ({"created_at": "2025-02-29T00:00:00.000Z"}, 422, "tasks[1].created_at"),
        ({"updated_at": "2025-06-07T08:09:10Z"}, 422, "tasks[1].updated_at"),
        ({"updated_at": "2025-06-07T08:09:10.011Z\n"}, 422, "tasks[1].updated_at"),
        ({"version": 0}, 422, "tasks[1].version"),
        ({"version": 2.5}, 400, "tasks[1].version"),
        ({"seq": 4}, 400, "tasks[1].seq"),
    ],
)
async def test_a_bad_task_refuses_the_whole_import_naming_it(client, change, status, field):
    resp = await client.post("/tasks/import", json={"tasks": [imported(), {**imported(), **change}]})
    body = await resp.json()
    assert (resp.status, body["field"]) == (status, field), body
    assert await every_task(client) == []


async def test_an_import_larger_than_a_batch_is_refused(make_client):
    async with make_client(api={"max_batch": 3}) as client:
        resp = await client.post("/tasks/import", json={"tasks": [imported() for _ in range(4)]})
        assert resp.status == 422 and "1 to 3 tasks" in (await resp.json())["message"]


async def test_a_chunk_over_the_quota_is_refused_whole_and_one_already_there_is_not(make_client):
    async with make_client(storage={"max_tasks": 3}) as client:
        first = [imported("a"), imported("b")]
        await import_chunk(client, first)
        resp = await client.post("/tasks/import", json={"tasks": [imported("c"), imported("d")]})
        assert resp.status == 507 and (await resp.json())["error"] == "quota_exceeded"
        assert len(await every_task(client)) == 2
        assert await import_chunk(client, [*first, imported("c")]) == {"created": 1, "skipped": 2}
        assert await import_chunk(client, first) == {"created": 0, "skipped": 2}  # full, adds nothing


async def test_import_is_refused_below_the_cluster_version_every_node_knows_it_from(client, monkeypatch):
    node = client.app[NODE]
    await wait_until(lambda: node.status().versions.cluster_version >= 2, "the cluster is at version 2")
    monkeypatch.setattr(export_import, "IMPORT_FROM", node.status().versions.cluster_version + 1)
    resp = await client.post("/tasks/import", json={"tasks": [imported()]})
    body = await resp.json()
    assert resp.status == 409 and body["error"] == "cluster_version_too_old", body
    assert "cluster version" in body["message"]
    assert await every_task(client) == []


async def test_an_import_streams_created_events_to_the_dashboard(client):
    async with client.get("/events") as stream:
        await stream.content.readline()  # the stream is open
        task = imported("seen live")
        await import_chunk(client, [task])
        deadline = asyncio.get_running_loop().time() + 5
        seen = b""
        while task["id"].encode() not in seen:
            assert asyncio.get_running_loop().time() < deadline, seen
            seen += await asyncio.wait_for(stream.content.readline(), 5)
    assert b"created" in seen


async def test_export_needs_what_reads_need_and_import_what_writes_need(make_client):
    token = {"Authorization": "Bearer the-client-token"}
    async with make_client(api={"token": "the-client-token"}) as client:
        assert (await client.get("/tasks/export")).status == 200
        assert (await client.post("/tasks/import", json={"tasks": [imported()]})).status == 401
        resp = await client.post("/tasks/import", json={"tasks": [imported()]}, headers=token)
        assert resp.status == 200
    async with make_client(api={"token": "the-client-token", "protect_reads": True}) as client:
        assert (await client.get("/tasks/export")).status == 401
        assert (await client.get("/tasks/export", headers=token)).status == 200

"""``GET /backup`` on a one-node cluster: an administrator's backup is a file that verifies and holds
exactly the node's state at the index its headers name; nobody else gets one; a node streams a bounded
number at once; and a client that leaves stops the encoding."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from todonode.api import backup as backup_api
from todonode.api.backup import BACKUPS, MAX_BACKUPS
from todonode.api.keys import NODE
from todonode.storage import backup_file

from .conftest import SECRET

CLIENT, ADMIN = "the-client-token", "the-admin-token"
DEADLINE_S = 10.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def fill(client, count: int) -> None:
    for first in range(0, count, 500):
        titles = [{"title": f"task {n}"} for n in range(first, min(count, first + 500))]
        resp = await client.post("/tasks/batch", json={"tasks": titles}, headers=bearer(CLIENT))
        assert resp.status == 201, await resp.text()


async def test_an_administrators_backup_holds_the_nodes_state_at_the_index_it_names(
    make_client, tmp_path: Path
):
    async with make_client(api={"token": CLIENT, "admin_token": ADMIN}) as client:
        await fill(client, 1200)
        node = client.app[NODE]
        resp = await client.get("/backup", headers=bearer(ADMIN))
        assert resp.status == 200, await resp.text()
        path = tmp_path / "node.backup"
        path.write_bytes(await resp.read())
        expected = node.backup_point()

    header, state = backup_file.read(path)
    assert resp.headers["Content-Type"] == backup_file.MEDIA_TYPE
    assert resp.headers["X-Todonode-Cluster-Id"] == header.cluster_id == node.cluster_id
    assert int(resp.headers["X-Todonode-Backup-Index"]) == header.index == expected.meta.index
    assert int(resp.headers["X-Todonode-Backup-Term"]) == header.term == expected.meta.term
    assert int(resp.headers["X-Todonode-Backup-Storage-Format"]) == header.storage_format
    assert header.tasks == 1200
    assert state == expected.state  # the node was idle since: the same state, field for field


async def test_the_cluster_secret_also_takes_a_backup(client) -> None:
    resp = await client.get("/backup", headers=bearer(SECRET))
    assert resp.status == 200
    await resp.read()


@pytest.mark.parametrize(("token", "status"), [(CLIENT, 403), (None, 401), ("wrong", 401)])
async def test_only_an_administrator_gets_a_backup(make_client, token: str | None, status: int) -> None:
    async with make_client(api={"token": CLIENT, "admin_token": ADMIN}) as client:
        resp = await client.get("/backup", headers=bearer(token) if token else {})
        body = await resp.json()
    assert resp.status == status
    assert body["error"] == ("forbidden" if status == 403 else "unauthorized")


async def test_one_backup_more_than_a_node_streams_at_once_is_503_overloaded(client) -> None:
    slots = client.app[BACKUPS]
    with slots.take(), slots.take():
        assert slots.busy == MAX_BACKUPS
        resp = await client.get("/backup", headers=bearer(SECRET))
        body = await resp.json()
    assert resp.status == 503 and body["error"] == "overloaded"
    assert "already streams 2 backups" in body["message"]
    assert resp.headers["Retry-After"]
    again = await client.get("/backup", headers=bearer(SECRET))
    assert again.status == 200
    await again.read()


async def test_a_client_that_leaves_mid_stream_stops_the_encoding(client, monkeypatch) -> None:
    # A backup that would never end: only the client's leaving can stop it.
    ended = asyncio.Event()
    loop = asyncio.get_running_loop()

    def endless(*args: Any) -> Iterator[bytes]:
        try:
            yield from backup_api_pieces(*args)
            yield from itertools.repeat(b" " * 65536)
        finally:  # closed: nobody will ask for another piece
            loop.call_soon_threadsafe(ended.set)

    backup_api_pieces = backup_api.backup_pieces
    monkeypatch.setattr(backup_api, "backup_pieces", endless)
    slots = client.app[BACKUPS]
    url = f"http://{client.host}:{client.port}/backup"
    async with aiohttp.ClientSession() as session:
        resp = await session.get(url, headers=bearer(SECRET))
        assert resp.status == 200
        await resp.content.readexactly(1024 * 1024)
        resp.close()  # drops the connection mid-stream
    try:
        await asyncio.wait_for(ended.wait(), DEADLINE_S)
    except TimeoutError:
        raise AssertionError("the backup went on encoding after its client left") from None
    deadline = time.monotonic() + DEADLINE_S
    while slots.busy:
        assert time.monotonic() < deadline, "the backup kept its place after its client left"
        await asyncio.sleep(0.01)

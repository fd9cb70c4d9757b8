"""A stream speaks for the member that opened it alone: a message whose ``src`` is another member is
dropped and logged, the rest of its frame still stepped; a forged or corrupt frame changes nothing
and the node goes on."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer

from todonode.api.keys import NODE
from todonode.app import create_app
from todonode.raft import AppendEntries, Entry, EntryKind, Heartbeat, to_wire
from todonode.transport import RAFT_PATH, STREAM_PATH

from ..integration.harness import free_ports
from .conftest import SECRET, load, write_config

AUTH = {"Authorization": f"Bearer {SECRET}"}


@asynccontextmanager
async def node_with_two_silent_peers(tmp_path) -> AsyncIterator[tuple[TestClient, str, str]]:
    """A node whose two peers are never started: the test speaks for them."""
    path = write_config(tmp_path, cluster={"election_timeout_ms": 5000})
    text = path.read_text()
    own = text.split('nodes = ["', 1)[1].split('"', 1)[0]
    others = [url for url in (f"http://127.0.0.1:{p}" for p in free_ports(3)) if url != own][:2]
    path.write_text(text.replace(f'nodes = ["{own}"]', "nodes = " + orjson.dumps([own, *others]).decode()))
    config = load(path)
    first, second = (member for member in config.members if member != config.node.id)
    async with TestClient(TestServer(create_app(config), host="127.0.0.1", port=config.node.port)) as client:
        yield client, first, second


def frame(*messages) -> bytes:
    return orjson.dumps({"messages": [m if isinstance(m, dict) else to_wire(m) for m in messages]})


async def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + 5
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.01)


async def test_a_message_whose_src_is_not_the_streams_member_is_dropped_and_logged(tmp_path, caplog):
    async with node_with_two_silent_peers(tmp_path) as (client, sender, other):
        node = client.app[NODE]
        ws = await client.ws_connect(f"{STREAM_PATH}?from={sender}", headers=AUTH)
        noop = (Entry(5, 1, kind=EntryKind.NOOP),)
        with caplog.at_level(logging.WARNING, logger="todonode.api.internal"):
            forged = AppendEntries(term=7, src=other, dst=node.id, entries=noop)
            await ws.send_bytes(frame(forged, Heartbeat(term=5, src=sender, dst=node.id, round=1)))
            await wait_until(lambda: node.core.term == 5, f"the node to follow {sender}")

        assert node.leader_id == sender and node.core.term == 5  # term 7 from the forged message never came
        why = f"their src (e.g. '{other}') is not the member that sent them"
        assert [r.getMessage() for r in caplog.records] == [f"dropped 1 of 2 messages from {sender}: {why}"]
        await ws.close()


@pytest.mark.parametrize("term", [2**64 - 1, 2**63, -1, 1.5, "7", True])
async def test_a_forged_term_closes_the_stream_and_the_node_goes_on(tmp_path, term):
    async with node_with_two_silent_peers(tmp_path) as (client, sender, _):
        node = client.app[NODE]
        forged = {**to_wire(Heartbeat(term=5, src=sender, dst=node.id, round=1)), "term": term}
        ws = await client.ws_connect(f"{STREAM_PATH}?from={sender}", headers=AUTH)
        await ws.send_bytes(frame(forged))
        closing = await ws.receive(timeout=5)
        assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
        resp = await client.post(RAFT_PATH, data=frame(forged), headers=AUTH)
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_json"
        assert node.core.term == 0

        ws = await client.ws_connect(f"{STREAM_PATH}?from={sender}", headers=AUTH)
        await ws.send_bytes(frame(Heartbeat(term=5, src=sender, dst=node.id, round=1)))
        await wait_until(lambda: node.core.term == 5 and node.leader_id == sender, "the next good frame")
        await ws.close()

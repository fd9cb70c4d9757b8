"""The connection budget on real sockets, served as the todonode command serves (GuardedSite): slow
heads and bodies are cut off with 408, idle connections go, one address cannot take every
connection, and a peer gets in while clients fill the node. Hostile clients get their own loopback
addresses (127.0.0.2 and up), as they would have on a network."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.abuse.raw import close, connect, read_answer, request, trickle
from tests.needs import LOOPBACK_ADDRESSES
from todonode.api.connections import CONNECTIONS, GuardedSite
from todonode.app import create_app
from todonode.cli import bind
from todonode.config import Config
from todonode.transport import STREAM_PATH

from ..integration.harness import free_ports
from .conftest import SECRET, load, write_config

pytestmark = pytest.mark.needs(LOOPBACK_ADDRESSES)

FAST = {"header_timeout_s": 1, "body_timeout_s": 1, "keepalive_timeout_s": 1}


@asynccontextmanager
async def served(tmp_path, *, peers: int = 0, **api: Any) -> AsyncIterator[tuple[Config, web.Application]]:
    """A node served through GuardedSite; ``peers`` more members that never start."""
    path = write_config(tmp_path, api=api, cluster={"election_timeout_ms": 5000})
    text = path.read_text()
    own = text.split('nodes = ["', 1)[1].split('"', 1)[0]
    others = [
        f"http://127.0.0.1:{port}" for port in free_ports(peers + 1) if f"http://127.0.0.1:{port}" != own
    ]
    nodes = ", ".join(f'"{url}"' for url in [own, *others[:peers]])
    path.write_text(text.replace(f'nodes = ["{own}"]', f"nodes = [{nodes}]"))
    config = load(path)
    runner = web.AppRunner(create_app(config), handle_signals=False)
    await runner.setup()
    sock = bind(config.node.host, config.node.port)
    try:
        await GuardedSite(runner, sock).start()
        yield config, runner.app
    finally:
        await runner.cleanup()
        sock.close()


def url_of(config: Config) -> str:
    return config.self_url


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the node sends until it closes the connection, which it must do in time."""
    return await asyncio.wait_for(reader.read(), seconds)


async def test_a_silent_connection_and_a_half_sent_head_are_answered_408_and_closed(tmp_path):
    async with served(tmp_path, **FAST) as (config, _):
        silent = await connect(url_of(config), "127.0.0.2")
        half = await connect(url_of(config), "127.0.0.2")
        half[1].write(b"GET /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for reader, _ in (silent, half):
            answer = await closed_within(reader, 5)
            assert answer.startswith(b"HTTP/1.1 408 ") and b'"request_timeout"' in answer


async def test_a_head_or_a_body_sent_a_byte_at_a_time_is_cut_off(tmp_path):
    async with served(tmp_path, **FAST) as (config, _):
        body = b'{"title": "slow"}'
        for sent in (
            request("GET", "/health", "127.0.0.1"),
            request("POST", "/tasks", "127.0.0.1", {"Content-Type": "application/json"}, body),
        ):
            reader, writer = await connect(url_of(config), "127.0.0.2")
            answer = asyncio.ensure_future(reader.read(1 << 16))  # done with the first bytes back
            sent_bytes = await trickle(writer, sent, 0.1, answer)  # a whole request would take 4 s or more
            assert b" 408 " in (await asyncio.wait_for(answer, 5)).split(b"\r\n", 1)[0]
            assert sent_bytes < len(sent), "cut off before the request was whole"
            await close(writer)


async def test_a_body_that_stops_coming_is_408_request_timeout(tmp_path):
    async with served(tmp_path, **FAST) as (config, _):
        reader, writer = await connect(url_of(config), "127.0.0.2")
        headers = {"Content-Type": "application/json"}
        writer.write(request("POST", "/tasks", "127.0.0.1", headers, b'{"ti', length=17))
        answer = await asyncio.wait_for(read_answer(reader), 5)
        assert answer.status == 408 and orjson.loads(answer.body)["error"] == "request_timeout"
        await close(writer)


async def test_an_idle_kept_alive_connection_is_closed(tmp_path):
    async with served(tmp_path, **FAST) as (config, _):
        reader, writer = await connect(url_of(config), "127.0.0.2")
        writer.write(request("GET", "/health", "127.0.0.1"))
        assert (await read_answer(reader)).status == 200
        assert await closed_within(reader, 5) == b""


async def test_one_address_cannot_take_every_connection(tmp_path):
    async with served(tmp_path, max_connections=20, max_connections_per_client=3) as (config, app):
        streams = []
        for _ in range(3):  # busy for good: event streams
            reader, writer = await connect(url_of(config), "127.0.0.2")
            writer.write(request("GET", "/events", "127.0.0.1"))
            assert (await read_answer_head(reader)) == 200
            streams.append(writer)
        reader, _ = await connect(url_of(config), "127.0.0.2")
        refused = await read_answer(reader)
        assert refused.status == 503 and refused.headers["retry-after"] == "1"
        assert orjson.loads(refused.body)["error"] == "overloaded"
        # Another address is not affected.
        async with aiohttp.ClientSession() as session, session.get(url_of(config) + "/health") as resp:
            assert resp.status == 200
        assert app[CONNECTIONS].refused == 1
        async with aiohttp.ClientSession() as session, session.get(url_of(config) + "/metrics") as resp:
            text = await resp.text()
        assert "todonode_connections_refused_total 1.0" in text
        assert 'todonode_connections{pool="client"} 4.0' in text  # three streams and this scrape
        for writer in streams:
            await close(writer)


async def read_answer_head(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1])


async def hold_event_streams(config: Config, sources: tuple[str, ...]) -> list[asyncio.StreamWriter]:
    """A connection from each of ``sources``, kept busy by an event stream."""
    held = []
    for source in sources:
        reader, writer = await connect(url_of(config), source)
        writer.write(request("GET", "/events", "127.0.0.1"))
        assert await read_answer_head(reader) == 200
        held.append(writer)
    return held


async def test_a_peer_gets_in_while_clients_fill_the_node_and_a_client_does_not(tmp_path):
    async with served(tmp_path, peers=1, max_connections=2, max_connections_per_client=2) as (config, app):
        peer_id = next(member for member in config.members if member != config.node.id)
        held = await hold_event_streams(config, ("127.0.0.3", "127.0.0.4"))
        async with aiohttp.ClientSession() as session:
            async with session.get(url_of(config) + "/health") as resp:
                assert resp.status == 503 and (await resp.json())["error"] == "overloaded"
                assert resp.headers["Connection"] == "close"
            headers = {"Authorization": f"Bearer {SECRET}"}
            async with session.ws_connect(
                f"{url_of(config)}{STREAM_PATH}?from={peer_id}", headers=headers
            ) as ws:
                await ws.send_bytes(orjson.dumps({"messages": []}))
                assert app[CONNECTIONS].counts() == {"client": 2, "peer": 1}
        for writer in held:
            await close(writer)


async def test_the_admin_token_wins_no_connection_place_a_client_would_not_get(tmp_path):
    admin = "a-token-for-administration-only"
    limits = {"max_connections": 2, "max_connections_per_client": 2, "admin_token": admin}
    async with served(tmp_path, peers=1, **limits) as (config, _):
        held = await hold_event_streams(config, ("127.0.0.3", "127.0.0.4"))
        reader, writer = await connect(url_of(config), "127.0.0.5")  # taken into the peers' reserve
        headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
        writer.write(request("POST", "/cluster/transfer-leader", "127.0.0.1", headers, b"{}"))
        refused = await read_answer(reader)
        assert refused.status == 503 and orjson.loads(refused.body)["error"] == "overloaded"
        for each in (*held, writer):
            await close(each)

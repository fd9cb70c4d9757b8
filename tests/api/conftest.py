"""A one-node cluster served in-process: a real Node (log, snapshots, Raft) behind the real app, on a
free loopback port, with timings fast enough that it elects itself in a fraction of a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from todonode.api.keys import NODE
from todonode.app import create_app
from todonode.config import Config, load_config
from todonode.node import Node

from ..integration.harness import free_port, toml_value

SECRET = "348c53de36883b199626e26804cda484537ad2c70a1226a27dc10b773c0ab91e"  # 32 random bytes
TIMINGS = {"tick_ms": 10, "heartbeat_ms": 50, "election_timeout_ms": 150, "write_wait_ms": 2000}
LEADER_DEADLINE_S = 10.0


def write_config(
    root: Path,
    *,
    cluster: dict[str, Any] | None = None,
    api: dict[str, Any] | None = None,
    storage: dict[str, Any] | None = None,
    demo: dict[str, Any] | None = None,
) -> Path:
    """A one-node config in ``root``; ``cluster``, ``api``, ``storage`` and ``demo`` override or add keys
    of those sections."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sections = {
        "node": {"host": "127.0.0.1", "port": port, "data_dir": str(root / "data")},
        "cluster": {**TIMINGS, **(cluster or {})},
        # Durability is tested elsewhere; these tests are about HTTP.
        "storage": {"fsync": False, **(storage or {})},
        "api": api or {},
        "demo": demo or {},
    }
    lines = []
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        if name == "cluster":
            lines.append(f'nodes = ["{url}"]')
        lines.extend(f"{key} = {toml_value(value)}" for key, value in keys.items())
    path = root / "node.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def load(path: Path) -> Config:
    return load_config(path, environ={"TODONODE_SECRET": SECRET})


async def wait_until(predicate: Callable[[], bool], what: str, deadline_s: float = LEADER_DEADLINE_S) -> None:
    deadline = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def serve(config: Config) -> AsyncIterator[TestClient]:
    """The app on the config's own port (so the node's URL is where it is served), once it leads."""
    server = TestServer(create_app(config), host=config.node.host, port=config.node.port)
    async with TestClient(server) as client:
        node = client.app[NODE]
        await wait_until(lambda: node.is_leader and node.applied >= 1, "the node leads")
        yield client


@pytest.fixture
def make_client(tmp_path: Path):
    """``async with make_client(api={...}, cluster={...}) as client`` for a node with its own config."""
    count = 0

    def make(**sections: Any):
        nonlocal count
        count += 1
        return serve(load(write_config(tmp_path / f"node{count}", **sections)))

    return make


@pytest.fixture
async def client(make_client) -> AsyncIterator[TestClient]:
    async with make_client() as client:
        yield client


@pytest.fixture
def node(client: TestClient) -> Node:
    return client.app[NODE]

"""A node told to serve plain HTTP beyond loopback (``node.insecure_plaintext``) says so: once in its
log at start, and on every ``GET /status``."""

from __future__ import annotations

import logging

from aiohttp.test_utils import TestClient, TestServer

from todonode.api.keys import NODE
from todonode.app import create_app
from todonode.cli import _log_security

from .conftest import load, wait_until, write_config


def plaintext_config(tmp_path):
    """A one-node config that binds every address, in plain HTTP, as insecure_plaintext allows."""
    path = write_config(tmp_path)
    text = path.read_text().replace('host = "127.0.0.1"', 'host = "0.0.0.0"\ninsecure_plaintext = true')
    path.write_text(text.replace("http://127.0.0.1:", "http://0.0.0.0:"))
    return load(path)


async def test_status_warns_of_plain_http_beyond_loopback(tmp_path):
    config = plaintext_config(tmp_path)
    # Served on loopback alone: the test needs the node's config, not a port open to the network.
    async with TestClient(TestServer(create_app(config), host="127.0.0.1", port=config.node.port)) as client:
        node = client.app[NODE]
        await wait_until(lambda: node.is_leader, "the node leads")
        body = await (await client.get("/status")).json()

    assert body["warnings"] == [
        "node.insecure_plaintext: this node serves plain HTTP on 0.0.0.0, beyond loopback; anyone on "
        "that network can read its tasks and its peers' traffic"
    ]


async def test_a_node_on_loopback_has_nothing_to_warn_of(client):
    assert (await (await client.get("/status")).json())["warnings"] == []


def test_the_log_says_it_once_at_start(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="todonode"):
        _log_security(plaintext_config(tmp_path))

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            "node.insecure_plaintext: serving plain HTTP on 0.0.0.0, beyond loopback; anyone on that "
            "network can read the tasks and the peers' traffic",
        )
    ]

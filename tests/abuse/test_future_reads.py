"""A read that asks for a log index far in the future is refused at once and leaves nothing behind:
over 100,000 of them the node's memory stays where it was."""

from __future__ import annotations

import time

import pytest

from tests.integration.harness import Client, find_leader
from tests.needs import LOOPBACK_ADDRESSES

from .memory import rss_bytes
from .raw import pipelined, request

REQUESTS = 100_000
WARM_UP = 10_000
FLAT = 4 * 1024 * 1024  # a waiter left behind per request would cost tens of megabytes here


@pytest.mark.needs(LOOPBACK_ADDRESSES)
async def test_rss_stays_flat_over_100000_reads_of_a_future_index(make_cluster, client: Client):
    cluster = make_cluster(1, log_level="info")
    cluster.start_all()
    node = await find_leader(client, cluster)
    raw = request("GET", f"/tasks?min_index={10**17}", host=f"127.0.0.1:{node.port}")
    assert await pipelined(node.url, raw, WARM_UP) == {400: WARM_UP}
    before = rss_bytes(node)
    started = time.monotonic()
    answered = await pipelined(node.url, raw, REQUESTS)
    took = time.monotonic() - started
    after = rss_bytes(node)
    print(f"\n{REQUESTS} future reads in {took:.1f} s; RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB")
    assert answered == {400: REQUESTS}
    assert after - before < FLAT, f"RSS grew by {(after - before) / 2**20:.1f} MiB"

"""Slow and abusive clients must not cost the cluster its leader: while one client sends a body one byte
a second and another holds 300 idle connections, a three-node cluster keeps its term (no election) and
its writes succeed. The write latencies, before and during, are printed for the record: the machine
running the tests decides them, so they are not asserted."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time

from tests.abuse.raw import connect

from .harness import Client, NodeProcess, ProcessCluster, find_leader, wait_for

IDLE_CONNECTIONS = 300
ABUSER = "127.0.0.2"  # an address of its own, as on a network: the writer is 127.0.0.1
ABUSE_S = 8.0


async def _terms(client: Client, cluster: ProcessCluster) -> dict[str, int]:
    statuses = await asyncio.gather(*(client.status(node) for node in cluster.nodes))
    return {node.id: status["term"] for node, status in zip(cluster.nodes, statuses, strict=True) if status}


async def _writes(client: Client, nodes: list[NodeProcess], seconds: float) -> tuple[list[float], list[int]]:
    """Writes one after another, alternating between ``nodes``, for ``seconds``."""
    latencies, failures = [], []
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        node = nodes[n % len(nodes)]
        started = time.monotonic()
        code, _, _ = await client.call("POST", f"{node.url}/tasks", {"title": f"write {n}"}, timeout=10)
        latencies.append(time.monotonic() - started)
        if code != 201:
            failures.append(code)
        n += 1
    return latencies, failures


async def _slow_body(node: NodeProcess, seconds: float) -> None:
    """A POST whose body arrives one byte a second."""
    _, writer = await connect(node.url, ABUSER)
    body = b'{"title": "' + b"s" * 200 + b'"}'
    writer.write(
        b"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    deadline = time.monotonic() + seconds
    for byte in body:
        if time.monotonic() >= deadline:
            break
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(1.0)
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def _idle_connections(node: NodeProcess, count: int) -> list[asyncio.StreamWriter]:
    writers = []
    for i in range(count):
        _, writer = await connect(node.url, ABUSER)
        if i % 2:  # half of them also start a request and never finish its headers
            writer.write(b"GET /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        writers.append(writer)
    return writers


def _summary(latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{len(ms)} writes, median {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms"


async def test_slow_and_idle_clients_cause_no_election_and_writes_go_on(make_cluster, client: Client):
    # No hand-over to the preferred node in the middle: any change of leader here would be an election.
    cluster = make_cluster(3, log_level="info", timings={"prefer_lowest_port": "false"})
    cluster.start_all()
    leader = await find_leader(client, cluster)
    follower = next(node for node in cluster.nodes if node is not leader)

    async def all_up() -> bool:
        return len(await _terms(client, cluster)) == 3

    await wait_for(all_up, 20, "every node to answer")
    before_latencies, before_failures = await _writes(client, [leader, follower], 3.0)
    terms_before = await _terms(client, cluster)

    idle = await _idle_connections(leader, IDLE_CONNECTIONS)
    slow = asyncio.create_task(_slow_body(leader, ABUSE_S))
    try:
        during_latencies, during_failures = await _writes(client, [leader, follower], ABUSE_S)
        terms_during = await _terms(client, cluster)
    finally:
        slow.cancel()
        await asyncio.gather(slow, return_exceptions=True)
        for writer in idle:
            writer.close()

    print(f"\nbefore: {_summary(before_latencies)}\nduring: {_summary(during_latencies)}")
    assert before_failures == [] and during_failures == [], (before_failures, during_failures)
    assert terms_during == terms_before, "an election happened while the clients misbehaved"
    assert (await find_leader(client, cluster)) is leader

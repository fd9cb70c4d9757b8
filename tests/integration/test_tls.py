"""Real nodes over TLS on loopback: a four-node cluster with mutual TLS between peers takes writes,
fails over and catches up; peers without the right certificate are refused; plain HTTP to a TLS port
gets no answer; peers on a listener of their own; the terminal client speaks TLS."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.chaos.runner import converge
from todonode import certs
from todonode.api.headers import PEER_VERSIONS
from todonode.raft import Heartbeat, to_wire
from todonode.transport import RAFT_PATH, STREAM_PATH
from todonode.versions import this_node

from .harness import SECRET, Client, NodeProcess, ProcessCluster, find_leader, free_ports, wait_for

TIMINGS = {"leader_settle_ms": 60_000}  # no hand-back to the lowest port in the middle of a test


@pytest.fixture
async def tls_cluster(make_cluster) -> AsyncIterator[tuple[ProcessCluster, Client]]:
    """Four members speaking TLS, mutual between peers, and a client that trusts their CA."""
    cluster = make_cluster(4, tls=True, timings=TIMINGS, log_level="info")
    connector = aiohttp.TCPConnector(ssl=cluster.ssl_context(certificate=None))
    async with aiohttp.ClientSession(connector=connector) as session:
        yield cluster, Client(session)


def todonode(*args: str, secret: bool = False) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TODONODE_")}
    if secret:  # as the nodes have it: their configs need it to load
        env["TODONODE_SECRET"] = SECRET
    command = [sys.executable, "-m", "todonode.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


async def write(client: Client, node: NodeProcess, title: str) -> str:
    key = {"Idempotency-Key": f"{node.id}-{title}"}

    async def written() -> str | None:
        code, body, _ = await client.call("POST", node.url + "/tasks", {"title": title}, headers=key)
        return body["id"] if code == 201 else None

    return await wait_for(written, 15, f"{title!r} to be written through {node.id}")


async def test_a_four_node_tls_cluster_takes_writes_fails_over_and_catches_up(tls_cluster):
    cluster, client = tls_cluster
    cluster.start_all()
    leader = await find_leader(client, cluster)
    assert leader.url.startswith("https://127.0.0.1:")
    follower = next(node for node in cluster.nodes if node is not leader)
    acked = {await write(client, follower, "through a follower")}
    acked.add(await write(client, leader, "on the leader"))

    cluster.kill(leader.index)
    rest = [node for node in cluster.nodes if node is not leader]
    new_leader = await find_leader(client, cluster, timeout=15)
    assert new_leader is not leader
    for node in rest:
        acked.add(await write(client, node, f"after the failover, via {node.id}"))

    cluster.start(leader.index)  # it catches up from the new leader, over TLS
    final, problem = await converge(client, cluster, timeout=30)
    assert problem is None, problem
    for node in cluster.nodes:
        assert {task["id"] for task in final[node.id] or []} == acked, node.id
    assert "Traceback" not in cluster.logs()


async def test_the_terminal_client_speaks_tls_and_administers_with_its_certificate(tls_cluster):
    cluster, client = tls_cluster
    cluster.start_all()
    leader = await find_leader(client, cluster)
    follower = next(node for node in cluster.nodes if node is not leader)
    ca = str(cluster.certs_dir / "ca.crt")
    mine = ["--cert", str(cluster.certs_dir / "client.crt"), "--key", str(cluster.certs_dir / "client.key")]

    added = await asyncio.to_thread(todonode, "tasks", "add", "over TLS", "--url", follower.url, "--ca", ca)
    assert added.returncode == 0 and "over TLS" in added.stdout, added.stderr
    untrusted = await asyncio.to_thread(todonode, "tasks", "list", "--url", follower.url)
    assert untrusted.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr

    refused = await asyncio.to_thread(
        todonode, "cluster", "transfer-leader", follower.id, "--url", follower.url, "--ca", ca
    )
    assert refused.returncode == 1 and "unauthorized" in refused.stderr
    moved = await asyncio.to_thread(
        todonode, "cluster", "transfer-leader", follower.id, "--url", follower.url, "--ca", ca, *mine
    )
    assert moved.returncode == 0 and moved.stdout.startswith(f"{follower.id} leads now"), moved.stderr
    assert (await find_leader(client, cluster)) is follower

    # With a node's config: its CA, and its own certificate as the credential.
    back = await asyncio.to_thread(
        todonode, "cluster", "transfer-leader", leader.id, "--config", str(follower.config), secret=True
    )
    assert back.returncode == 0 and back.stdout.startswith(f"{leader.id} leads now"), back.stderr


# --- who may speak as a peer ---


NO_HANDSHAKE = "no TLS handshake"


async def open_stream(url: str, claimed: str, context: ssl.SSLContext, headers=None) -> int | str:
    """The HTTP status a peer stream gets, or NO_HANDSHAKE when the connection fails before any HTTP.
    The stream announces this release's versions, as a member's transport does."""
    headers = {PEER_VERSIONS: this_node().header(), **(headers or {})}
    connector = aiohttp.TCPConnector(ssl=context, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        try:
            async with session.ws_connect(f"{url}{STREAM_PATH}?from={claimed}", headers=headers) as ws:
                await ws.close()
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        except (aiohttp.ClientConnectionError, OSError):
            return NO_HANDSHAKE


async def test_a_peer_without_the_right_certificate_is_refused(tls_cluster, tmp_path: Path):
    cluster, client = tls_cluster
    cluster.start_all()
    await find_leader(client, cluster)
    target, member, other = cluster.nodes[0], cluster.nodes[1], cluster.nodes[2]
    another_ca = tmp_path / "another-ca"  # its certificate has the member's very name
    certs.init(another_ca, [certs.Member(member.id, ("127.0.0.1",))])
    foreign = ssl.create_default_context(cafile=cluster.certs_dir / "ca.crt")
    foreign.load_cert_chain(another_ca / f"{member.id}.crt", another_ca / f"{member.id}.key")
    secret = {"Authorization": f"Bearer {SECRET}"}

    # The member's own certificate opens its own stream: the test's control.
    assert await open_stream(target.url, member.id, cluster.ssl_context(member.id)) == 101
    # No certificate: 401, and the cluster secret does not stand in for one.
    assert await open_stream(target.url, member.id, cluster.ssl_context(None)) == 401
    assert await open_stream(target.url, member.id, cluster.ssl_context(None), secret) == 401
    # A certificate of the same name from another CA: the handshake itself fails.
    assert await open_stream(target.url, member.id, foreign) == NO_HANDSHAKE
    # A member's certificate for another member's stream, and the client's for any: 403.
    assert await open_stream(target.url, other.id, cluster.ssl_context(member.id)) == 403
    assert await open_stream(target.url, member.id, cluster.ssl_context("client")) == 403

    # A member's certificate on a batch: a message in it that claims another member is dropped, logged.
    forged = to_wire(Heartbeat(term=10**6, src=other.id, dst=target.id, round=1))
    connector = aiohttp.TCPConnector(ssl=cluster.ssl_context(member.id))
    async with aiohttp.ClientSession(connector=connector) as session:
        code, _, _ = await Client(session).call("POST", target.url + RAFT_PATH, {"messages": [forged]})
    assert code == 204
    dropped = f"dropped 1 of 1 messages from {member.id}: their src (e.g. '{other.id}') is not the member"

    async def logged() -> bool:
        return dropped in target.log.read_text()

    await wait_for(logged, 5, "the dropped message's log line")
    status = await client.status(target)
    assert status is not None and status["term"] < 10**6


async def test_plain_http_to_a_tls_port_gets_no_answer(tls_cluster):
    cluster, client = tls_cluster
    cluster.start(0)
    node = cluster.nodes[0]
    await wait_for(lambda: client.status(node), 20, "the node to answer over TLS")

    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    writer.write(f"GET /tasks HTTP/1.1\r\nHost: 127.0.0.1:{node.port}\r\n\r\n".encode())
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(4096), 10)
    writer.close()

    assert not answer.startswith(b"HTTP/")  # nothing, or a TLS alert: never a page or a task
    async with aiohttp.ClientSession() as plain:
        code, body, _ = await Client(plain).call("GET", node.url.replace("https://", "http://") + "/tasks")
    assert code == 0, body


async def test_a_client_that_stalls_the_tls_handshake_is_cut_off_at_the_head_deadline(make_cluster):
    """The budget sees a TLS socket only after its handshake: the handshake itself must have a deadline
    (api.header_timeout_s), or idle sockets would hold the node's files for asyncio's default 60 s."""
    cluster = make_cluster(1, tls=True, api={"header_timeout_s": 1})
    cluster.start(0)
    node = cluster.nodes[0]
    connector = aiohttp.TCPConnector(ssl=cluster.ssl_context(certificate=None))
    async with aiohttp.ClientSession(connector=connector) as session:
        await wait_for(lambda: Client(session).status(node), 20, "the node to answer over TLS")

    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)  # and never says hello
    closed = await asyncio.wait_for(reader.read(), 15)  # b"" once the server hangs up
    writer.close()
    assert closed == b""


# --- peers on a listener of their own ---


class SpreadCluster(ProcessCluster):
    """Members on hosts of their own (127.0.0.1, .2, ...: all loopback on Linux), each with its own
    client port and the same peer port."""

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        *ports, peer_port = free_ports(self.size + 1)
        hosts = [f"127.0.0.{i + 1}" for i in range(self.size)]
        urls = [f"https://{host}:{port}" for host, port in zip(hosts, ports, strict=True)]
        self.node_keys["peer_port"] = peer_port
        self._make_certificates([(f"node{port}", host) for host, port in zip(hosts, ports, strict=True)])
        for i, (host, port) in enumerate(zip(hosts, ports, strict=True)):
            config = self.root / f"node{port}.toml"
            config.write_text(self._config_text(port, urls, host=host))
            log = self.root / f"node{port}.log"
            self.nodes.append(NodeProcess(i, port, config, log, host=host, scheme="https"))


async def test_peers_on_their_own_listener_and_clients_on_theirs(tmp_path):
    cluster = SpreadCluster(tmp_path / "spread", 3, tls=True, timings=TIMINGS, log_level="info")
    peer_port = cluster.node_keys["peer_port"]
    try:
        cluster.start_all()
        connector = aiohttp.TCPConnector(ssl=cluster.ssl_context(certificate=None))
        async with aiohttp.ClientSession(connector=connector) as session:
            client = Client(session)
            leader = await find_leader(client, cluster)
            follower = next(node for node in cluster.nodes if node is not leader)
            await write(client, follower, "peers on their own port")
            _, problem = await converge(client, cluster, timeout=20)
            assert problem is None, problem

            peer_url = f"https://{leader.host}:{peer_port}"
            member = follower.id
            # The client port serves no peer route; the peer port no client route.
            assert await open_stream(leader.url, member, cluster.ssl_context(member)) == 404
            code, _, _ = await Client(session).call("GET", peer_url + "/tasks")
            assert code == 0  # no certificate: no handshake on the peer port
        assert await open_stream(peer_url, member, cluster.ssl_context(None)) == NO_HANDSHAKE
        connector = aiohttp.TCPConnector(ssl=cluster.ssl_context(member))
        async with aiohttp.ClientSession(connector=connector) as session:
            code, _, _ = await Client(session).call("GET", peer_url + "/tasks")
            assert code == 404
    finally:
        cluster.close()

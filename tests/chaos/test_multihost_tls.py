"""The multi-host cluster over mutual TLS: four members in four network namespaces, each on its own
address, clients on one port and peers on another. It takes writes, fails over when the leader is
killed, and the killed member catches up; and a capture of the traffic between two of the namespaces
holds neither a task's title nor the cluster secret. The same capture of a plaintext cluster holds
both: the control that proves the capture sees what it should."""

from __future__ import annotations

import asyncio
import base64
import functools
import re
import signal
import struct
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.integration.harness import SECRET, Client, NodeProcess, ProcessCluster, find_leader, wait_for
from tests.needs import NETNS, TCPDUMP

from .netns import PORT, Network
from .runner import chaos_cluster, converge

PEER_PORT = PORT + 1
TITLE = "Buy the birthday present, unseen by the wire"


pytestmark = pytest.mark.needs(NETNS)


@asynccontextmanager
async def multihost(tmp_path: Path, *, tls: bool) -> AsyncIterator[tuple[ProcessCluster, Network, Client]]:
    """Four members in four namespaces (not started), and a client on the host that trusts their CA."""
    node_keys = {"peer_port": PEER_PORT} if tls else {}
    with chaos_cluster("netns", tmp_path / "cluster", 4, tls=tls, node_keys=node_keys) as (cluster, network):
        assert network is not None
        context = cluster.ssl_context(certificate=None) if tls else None
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context or True)) as session:
            yield cluster, network, Client(session)


async def write(client: Client, node: NodeProcess, title: str) -> str:
    key = {"Idempotency-Key": str(uuid.uuid4())}

    async def written() -> str | None:
        code, body, _ = await client.call(
            "POST", node.url + "/tasks", {"title": title}, headers=key, timeout=10
        )
        return body["id"] if code == 201 else None

    return await wait_for(written, 20, f"{title!r} written through {node.id}")


async def test_a_cluster_across_namespaces_over_mutual_tls_fails_over_and_catches_up(tmp_path: Path):
    async with multihost(tmp_path, tls=True) as (cluster, network, client):
        cluster.start_all()
        nodes = cluster.nodes
        leader = await find_leader(client, cluster, timeout=30)
        assert all(node.url.startswith(f"https://{network.addresses[node.index]}:{PORT}") for node in nodes)
        acked = {await write(client, node, f"before, via {node.index}") for node in nodes}

        cluster.kill(leader.index)
        new_leader = await find_leader(client, cluster, timeout=20)
        assert new_leader is not leader
        for node in nodes:
            if node is not leader:
                acked.add(await write(client, node, f"after, via {node.index}"))

        cluster.start(leader.index)
        final, problem = await converge(client, cluster, timeout=30)
        assert problem is None, problem
        assert all({task["id"] for task in final[node.id] or []} == acked for node in nodes)
        log = cluster.logs()
        assert "peers reach this node at https://" in log and "Traceback" not in log


@pytest.mark.parametrize("tls", [True, False], ids=["mutual_tls", "plaintext_control"])
async def test_the_wire_between_two_namespaces_shows_no_title_and_no_secret(tmp_path: Path, tls: bool):
    TCPDUMP.check()
    async with multihost(tmp_path, tls=tls) as (cluster, network, client):
        # Every link of the test network, from before the first stream opens.
        with capture(f"net {network.subnet}", tmp_path / "all.pcap") as pcap:
            cluster.start_all()
            via, leader = await forwarded_write(client, cluster, TITLE)
            _, problem = await converge(client, cluster, timeout=30)
            assert problem is None, problem
            # The forwarded request crossed the client port; with mutual TLS the leader's appends crossed
            # the peer port, else the client port too. Stop once the capture holds them.
            pair = f"host {via.host} and host {leader.host}"
            for port in {PORT, PEER_PORT if tls else PORT}:
                traffic = f"{pair} and tcp port {port}"
                await wait_for(functools.partial(captured, pcap, traffic), 10, f"a capture of {traffic}")
        between = between_hosts(pcap, via.host, leader.host, tmp_path / "between.pcap")

    wire = tcp_payloads(between)
    seen = {"title": any(form in wire for form in encoded_forms(TITLE)), "secret": SECRET.encode() in wire}
    assert seen == ({"title": False, "secret": False} if tls else {"title": True, "secret": True})


async def forwarded_write(
    client: Client, cluster: ProcessCluster, title: str
) -> tuple[NodeProcess, NodeProcess]:
    """Write ``title`` through a follower; the follower and the leader that took it from there (the
    write then crossed the wire between them in a request, and back in the leader's appends)."""
    key = {"Idempotency-Key": str(uuid.uuid4())}
    by_id = {node.id: node for node in cluster.nodes}

    async def written() -> tuple[NodeProcess, NodeProcess] | None:
        leader = await find_leader(client, cluster, timeout=30)
        via = next(node for node in cluster.nodes if node is not leader)
        code, _, headers = await client.call(
            "POST", via.url + "/tasks", {"title": title}, headers=key, timeout=10
        )
        if code != 201 or headers.get("X-Todonode-Forwarded-By") != via.id:
            return None  # not forwarded (the leadership moved to it first): the same key again
        return via, by_id[headers["X-Todonode-Node"]]

    return await wait_for(written, 30, f"{title!r} to be forwarded to the leader")


@contextmanager
def capture(traffic: str, path: Path) -> Iterator[Path]:
    """tcpdump of the packets matching ``traffic`` on every interface of the host (the host ends of
    the namespaces' links among them), into ``path`` until the block ends; stopped by its PID. Fails
    if the kernel dropped a packet: a capture with holes could hide what the test looks for."""
    # --immediate-mode: each packet reaches tcpdump (and, with -U, the file) as it arrives. In that mode
    # the kernel's buffer holds whole snapshots of the snaplen each: -B 65536 (KiB) keeps a thousand
    # packets of 64 KiB for when tcpdump waits for a busy CPU.
    command = ["tcpdump", "-i", "any", "--immediate-mode", "-U", "-B", "65536", "-s", "65535", "-n"]
    proc = subprocess.Popen(
        [*command, "-w", str(path), traffic], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        said = [proc.stderr.readline() for _ in range(2)]  # "listening on ...": capturing from now on
        assert any("listening on" in line for line in said), said
        yield path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, report = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, report = proc.communicate(timeout=10)
    dropped = re.search(r"(\d+) packets? dropped by kernel", report)
    assert dropped is not None and dropped[1] == "0", f"the capture lost packets: {report}"


def between_hosts(pcap: Path, first: str, second: str, out: Path) -> Path:
    """The packets of ``pcap`` between the two addresses alone."""
    done = subprocess.run(
        ["tcpdump", "-n", "-r", str(pcap), "-w", str(out), f"host {first} and host {second}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return out


async def captured(pcap: Path, traffic: str) -> bool:
    """Does ``pcap`` hold a packet that matches ``traffic`` (a tcpdump filter)?"""
    command = ["tcpdump", "-n", "-c", "1", "-r", str(pcap), traffic]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)
    return bool(done.stdout.strip())


# Where the IP packet starts after a capture's link-layer header, by the pcap link type.
_LINK_HEADERS = {1: 14, 113: 16, 276: 20}  # Ethernet, Linux cooked (SLL), Linux cooked v2 (-i any)


def tcp_payloads(pcap: Path) -> bytes:
    """Every TCP connection in ``pcap`` put back together (each byte once, in order), one after the
    other: a header or a title cut across two packets is whole again, and a packet seen on two
    interfaces counts once."""
    data = pcap.read_bytes()
    skip = _LINK_HEADERS[struct.unpack_from("<I", data, 20)[0]]
    flows: dict[bytes, dict[int, bytes]] = {}
    offset = 24
    while offset + 16 <= len(data):
        length = struct.unpack_from("<I", data, offset + 8)[0]
        packet = data[offset + 16 + skip : offset + 16 + length]
        offset += 16 + length
        if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != 6:  # IPv4 and TCP only
            continue
        ip_end = struct.unpack_from("!H", packet, 2)[0]
        tcp = packet[(packet[0] & 0x0F) * 4 : ip_end]
        payload = tcp[(tcp[12] >> 4) * 4 :]
        if payload:
            flow = packet[12:20] + tcp[:4]  # addresses and ports
            flows.setdefault(flow, {})[struct.unpack_from("!I", tcp, 4)[0]] = payload
    out = bytearray()
    for segments in flows.values():
        first = min(segments)  # a short capture: sequence numbers do not wrap around in it
        for seq in sorted(segments, key=lambda seq: (seq - first) % 2**32):
            out += segments[seq]
    return bytes(out)


def encoded_forms(text: str) -> list[bytes]:
    """``text`` as it may travel: as is, and base64-encoded at each of the three alignments (a log
    entry's command is base64 inside a peer message), less the characters its neighbours share."""
    raw = text.encode()
    return [raw, *(base64.b64encode(b"\0" * shift + raw)[4:-4] for shift in range(3))]

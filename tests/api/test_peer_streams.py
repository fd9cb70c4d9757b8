"""The peer streams: ``GET /internal/raft/stream`` on the serving side, ``PeerTransport`` on the sending
side. The serving side is the real app of a node; the sending side talks to a stand-in peer that
records every frame it gets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import orjson
import pytest
from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from todonode import transport as transport_module
from todonode.api.keys import NODE
from todonode.app import create_app
from todonode.raft import (
    AppendEntries,
    ClusterConfig,
    Entry,
    EntryKind,
    Heartbeat,
    InstallSnapshot,
    Message,
    Snapshot,
    SnapshotMeta,
    from_wire,
    to_wire,
)
from todonode.snapshot_chunks import CHUNKS_PROTOCOL, Chunk, decode_chunk, is_chunk_frame
from todonode.transport import NOTICE_LINGER_S, PROBES_PER_WINDOW, RETRY_PAUSE_S, STREAM_PATH, PeerTransport

from ..integration.harness import free_port, free_ports
from .conftest import SECRET, load, write_config

AUTH = {"Authorization": f"Bearer {SECRET}"}


def frame(*messages: Message) -> bytes:
    return orjson.dumps({"messages": [to_wire(m) for m in messages]})


# ------------------------------------------------------------------------------------ serving side


async def test_the_stream_needs_the_secret_and_a_member_to_come_from(client, node):
    resp = await client.get(STREAM_PATH + "?from=node1")
    assert resp.status == 401 and (await resp.json())["error"] == "unauthorized"
    for sender in ("", node.id, "node1"):
        resp = await client.get(f"{STREAM_PATH}?from={sender}", headers=AUTH)
        body = await resp.json()
        assert resp.status == 400 and body["error"] == "validation_error" and body["field"] == "from"


@asynccontextmanager
async def follower_of_a_silent_peer(tmp_path) -> AsyncIterator[tuple[TestClient, str]]:
    """A node whose only peer is never started: the test speaks for that peer."""
    path = write_config(tmp_path, cluster={"election_timeout_ms": 5000})
    text = path.read_text()
    own = text.split('nodes = ["', 1)[1].split('"', 1)[0]
    peer = next(url for url in (f"http://127.0.0.1:{p}" for p in free_ports(2)) if url != own)
    path.write_text(text.replace(f'nodes = ["{own}"]', f'nodes = ["{own}", "{peer}"]'))
    config = load(path)
    peer_id = next(member for member in config.members if member != config.node.id)
    async with TestClient(TestServer(create_app(config), host="127.0.0.1", port=config.node.port)) as client:
        yield client, peer_id


async def test_frames_on_the_stream_are_stepped_in_order(tmp_path):
    async with follower_of_a_silent_peer(tmp_path) as (client, peer):
        node = client.app[NODE]
        ws = await client.ws_connect(f"{STREAM_PATH}?from={peer}", headers=AUTH)
        entries = (Entry(4, 1, kind=EntryKind.NOOP),)
        await ws.send_bytes(frame(AppendEntries(term=4, src=peer, dst=node.id, entries=entries)))
        await ws.send_bytes(frame(Heartbeat(term=4, src=peer, dst=node.id, commit=1, round=1)))
        deadline = time.monotonic() + 5
        while node.core.commit < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert (node.core.term, node.leader_id, node.core.commit) == (4, peer, 1)
        assert node.transport.last_contact_ms(peer) is not None
        await ws.close()


async def test_an_empty_probe_tells_the_transport_and_leaves_the_ready_loop_asleep(tmp_path, monkeypatch):
    async with follower_of_a_silent_peer(tmp_path) as (client, peer):
        node = client.app[NODE]
        wakes: list[None] = []
        monkeypatch.setattr(node.ready_loop, "wake", lambda: wakes.append(None))
        node.receive(peer, [])
        assert node.transport.last_contact_ms(peer) is not None and wakes == []
        node.receive(peer, [Heartbeat(term=4, src=peer, dst=node.id, commit=0, round=1)])
        assert len(wakes) == 1


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("a text frame", WSCloseCode.UNSUPPORTED_DATA),
        (b'{"messages": [{"kind": "append", "term": 99}]}', WSCloseCode.INVALID_TEXT),
        (b"[1, 2", WSCloseCode.INVALID_TEXT),
        (b"\x00\x00\x00\x00\x02{}snapshot bytes", WSCloseCode.UNSUPPORTED_DATA),  # a chunk without a header
    ],
)
async def test_a_frame_that_is_not_a_batch_closes_the_stream_and_changes_nothing(tmp_path, data, code):
    async with follower_of_a_silent_peer(tmp_path) as (client, peer):
        node = client.app[NODE]
        ws = await client.ws_connect(f"{STREAM_PATH}?from={peer}", headers=AUTH)
        await (ws.send_str(data) if isinstance(data, str) else ws.send_bytes(data))
        closing = await ws.receive(timeout=5)
        assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED) and ws.close_code == code
        assert node.core.term == 0 and node.leader_id is None


# ------------------------------------------------------------------------------------ sending side


class StandInPeer:
    """An aiohttp server that accepts the stream and records each frame with the time it arrived, and
    each snapshot chunk with the number of batches that came before it. With ``chunks`` it accepts the
    chunks' subprotocol, as a 0.2.0 node does; without, it is a 0.1.0 node."""

    def __init__(self, chunks: bool = False) -> None:
        self.protocols = (CHUNKS_PROTOCOL,) if chunks else ()
        self.frames: list[tuple[float, list[Message]]] = []
        self.chunks: list[tuple[int, Chunk]] = []
        self.arrived = asyncio.Event()
        self.open: list[web.WebSocketResponse] = []
        self.app = web.Application()
        self.app.router.add_get(STREAM_PATH, self._stream)

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        assert request.headers["Authorization"] == f"Bearer {SECRET}"
        ws = web.WebSocketResponse(protocols=self.protocols)
        await ws.prepare(request)
        self.open.append(ws)
        async for msg in ws:
            if is_chunk_frame(msg.data):
                self.chunks.append((len(self.frames), decode_chunk(msg.data)))
                self.arrived.set()
                continue
            batch = [from_wire(m) for m in orjson.loads(msg.data)["messages"]]
            self.frames.append((time.monotonic(), batch))
            self.arrived.set()
        return ws

    def messages(self) -> list[Message]:
        return [m for _, batch in self.frames for m in batch]

    async def wait_for(self, count: int, timeout: float = 5) -> None:
        await self.until(lambda: len(self.messages()) >= count, timeout)

    async def until(self, done: Callable[[], bool], timeout: float = 5) -> None:
        """Wait for frames until ``done()``; TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not done():
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), max(0.01, deadline - time.monotonic()))


@asynccontextmanager
async def transport_for(url: str, **overrides) -> AsyncIterator[PeerTransport]:
    """A started transport of node n1 whose one peer, n2, is at ``url``."""

    async def snapshot_bytes(meta: SnapshotMeta) -> bytes:
        return b"snapshot bytes"

    options = {"timeout_s": 1.0, "probe_interval_s": 10.0, "reachable_window_s": 1.0, **overrides}
    transport = PeerTransport(
        self_id="n1",
        members={"n1": "http://127.0.0.1:1", "n2": url},
        secret=SECRET,
        read_snapshot=snapshot_bytes,
        **options,
    )
    await transport.start()
    try:
        yield transport
    finally:
        await transport.stop()


@asynccontextmanager
async def transport_to(peer: StandInPeer, **overrides) -> AsyncIterator[PeerTransport]:
    server = TestServer(peer.app, host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        async with transport_for(str(server.make_url("")).rstrip("/"), **overrides) as transport:
            yield transport
    finally:
        await server.close()


def beat(commit: int, round_: int = 1) -> Heartbeat:
    return Heartbeat(term=1, src="n1", dst="n2", commit=commit, round=round_)


async def test_messages_for_a_peer_arrive_in_order_and_batch_up_while_one_is_sent():
    peer = StandInPeer()
    async with transport_to(peer) as transport:
        transport.send([beat(0)])
        await peer.wait_for(1)
        transport.send([beat(n) for n in range(1, 201)])
        await peer.wait_for(201)
    assert [m.commit for m in peer.messages()] == list(range(201))
    assert len(peer.frames) < 201  # batched: the queue drains into one frame per send


async def test_a_lone_commit_notice_waits_for_the_next_append_and_shares_its_frame():
    peer = StandInPeer()
    async with transport_to(peer) as transport:
        transport.send([beat(0)])
        await peer.wait_for(1)
        transport.send([beat(1, round_=0)])
        transport.send([AppendEntries(term=1, src="n1", dst="n2", prev_index=1, prev_term=1, commit=1)])
        await peer.wait_for(3)
        assert [type(m).__name__ for m in peer.frames[-1][1]] == ["Heartbeat", "AppendEntries"]
        sent = time.monotonic()
        transport.send([beat(2, round_=0)])
        await peer.wait_for(4)
        waited = peer.frames[-1][0] - sent
        assert waited >= NOTICE_LINGER_S * 0.9  # alone, it still goes, after the linger


async def test_a_snapshot_is_read_from_disk_only_when_it_is_sent():
    peer = StandInPeer()
    async with transport_to(peer) as transport:
        meta = SnapshotMeta(10, 1, ClusterConfig(("n1", "n2")))
        transport.send([InstallSnapshot(term=1, src="n1", dst="n2", snapshot=Snapshot(meta, b""))])
        await peer.wait_for(1)
    (sent,) = peer.messages()
    assert isinstance(sent, InstallSnapshot) and sent.snapshot.data == b"snapshot bytes"


async def test_a_peer_that_takes_chunks_gets_the_file_in_chunks_with_other_messages_between(tmp_path):
    data = bytes(range(256)) * 4000  # 1,000 chunks of 1024 bytes
    (tmp_path / "snap").write_bytes(data)
    peer = StandInPeer(chunks=True)
    async with transport_to(
        peer, snapshot_path=lambda meta: tmp_path / "snap", snapshot_chunk_bytes=1024
    ) as t:
        meta = SnapshotMeta(10, 1, ClusterConfig(("n1", "n2")))
        t.send([InstallSnapshot(term=1, src="n1", dst="n2", snapshot=Snapshot(meta, b""))])
        await peer.until(lambda: bool(peer.chunks))
        t.send([beat(1)])  # while the file is on its way
        await peer.until(lambda: peer.chunks[-1][1].last)
    assert b"".join(c.data for _, c in peer.chunks) == data
    assert len(peer.chunks) == 1000 and all(c.meta == meta for _, c in peer.chunks)
    assert peer.messages() == [beat(1)]  # the snapshot itself never went as a message
    # The heartbeat went with the next turn of the sender, not after the rest of the file.
    after = [n for n, (batches, _) in enumerate(peer.chunks) if batches == 1]
    assert after and after[0] < len(peer.chunks) - 100


async def test_a_snapshot_the_stream_carried_whole_is_not_sent_again_on_it(tmp_path):
    (tmp_path / "snap").write_bytes(b"x" * 5000)
    peer = StandInPeer(chunks=True)
    async with transport_to(
        peer, snapshot_path=lambda meta: tmp_path / "snap", snapshot_chunk_bytes=1024
    ) as t:
        meta = SnapshotMeta(10, 1, ClusterConfig(("n1", "n2")))
        again = InstallSnapshot(term=1, src="n1", dst="n2", snapshot=Snapshot(meta, b""))
        t.send([again])
        deadline = time.monotonic() + 5
        await peer.until(lambda: bool(peer.chunks) and peer.chunks[-1][1].last)
        t.send([again, beat(1)])  # the core asking again, before the peer's answer
        await peer.wait_for(1)
        t.send([beat(2)])  # a chunk sent again would have gone between the two
        await peer.wait_for(2)
        assert len(peer.chunks) == 5
        await peer.open[0].close(code=WSCloseCode.GOING_AWAY)  # a new stream: the peer may lack it
        while len(peer.open) < 2 and time.monotonic() < deadline:
            t.send([beat(3)])
            await asyncio.sleep(0.01)
        t.send([again])
        await peer.until(lambda: len(peer.chunks) >= 10)
    assert len(peer.chunks) == 10 and peer.chunks[5][1].offset == 0


async def test_a_transfer_is_dropped_when_the_new_stream_takes_no_chunks(tmp_path):
    (tmp_path / "snap").write_bytes(b"x" * 1024 * 1000)
    peer = StandInPeer(chunks=True)
    async with transport_to(
        peer, snapshot_path=lambda meta: tmp_path / "snap", snapshot_chunk_bytes=1024
    ) as t:
        meta = SnapshotMeta(10, 1, ClusterConfig(("n1", "n2")))
        t.send([InstallSnapshot(term=1, src="n1", dst="n2", snapshot=Snapshot(meta, b""))])
        deadline = time.monotonic() + 5
        await peer.until(lambda: bool(peer.chunks))
        peer.protocols = ()  # the peer comes back as 0.1.0
        await peer.open[0].close(code=WSCloseCode.GOING_AWAY)
        while len(peer.open) < 2 and time.monotonic() < deadline:
            t.send([beat(1)])
            await asyncio.sleep(0.01)
        before = len(peer.chunks)
        t.send([beat(2)])
        await peer.wait_for(len(peer.messages()) + 1)
        t.send([beat(3)])
        await peer.wait_for(len(peer.messages()) + 1)
    assert len(peer.chunks) == before < 1000  # not one chunk on the stream that takes none


async def test_a_peer_that_accepts_no_chunks_gets_the_snapshot_whole(tmp_path):
    peer = StandInPeer(chunks=False)  # a 0.1.0 node
    async with transport_to(
        peer, snapshot_path=lambda meta: tmp_path / "snap", snapshot_chunk_bytes=1024
    ) as t:
        meta = SnapshotMeta(10, 1, ClusterConfig(("n1", "n2")))
        t.send([InstallSnapshot(term=1, src="n1", dst="n2", snapshot=Snapshot(meta, b""))])
        await peer.wait_for(1)
    (sent,) = peer.messages()
    assert isinstance(sent, InstallSnapshot) and sent.snapshot.data == b"snapshot bytes"
    assert peer.chunks == []


async def test_a_broken_stream_is_opened_again_and_later_messages_arrive():
    peer = StandInPeer()
    async with transport_to(peer) as transport:
        transport.send([beat(1)])
        await peer.wait_for(1)
        await peer.open[0].close(code=WSCloseCode.GOING_AWAY)
        deadline = time.monotonic() + 5
        while len(peer.open) < 2 and time.monotonic() < deadline:
            transport.send([beat(2)])  # the first of these may go down the closing stream and be lost
            await asyncio.sleep(0.05)
        assert len(peer.open) == 2
        transport.send([beat(3)])
        deadline = time.monotonic() + 5
        while peer.messages()[-1].commit != 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert peer.messages()[-1].commit == 3


async def test_a_peer_is_reachable_only_while_it_is_heard_from_and_its_stream_works():
    peer = StandInPeer()
    async with transport_to(peer, reachable_window_s=0.3) as transport:
        assert not transport.is_reachable("n2")  # nothing heard yet
        transport.received("n2", [])
        assert transport.is_reachable("n2") and transport.reachable_count() == 1
        deadline = time.monotonic() + 5
        while transport.is_reachable("n2") and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert not transport.is_reachable("n2")  # silent for longer than the window


async def test_a_peer_whose_port_refuses_is_unreachable_even_if_heard_from_lately():
    changes: list[tuple[str, bool]] = []
    async with transport_for(
        f"http://127.0.0.1:{free_port()}",
        probe_interval_s=0.05,
        reachable_window_s=10.0,
        on_change=lambda peer, up: changes.append((peer, up)),
    ) as transport:
        transport.received("n2", [])
        deadline = time.monotonic() + 5
        while not transport.links["n2"].failing and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert not transport.is_reachable("n2")
        assert changes[-1] == ("n2", False)


async def test_poll_probes_a_link_only_once_it_has_been_idle_for_a_probe_interval():
    peer = StandInPeer()
    interval = 0.3
    async with transport_to(peer, probe_interval_s=interval) as transport:
        sent_at = time.monotonic()
        transport.send([beat(1)])
        await peer.wait_for(1)
        deadline = time.monotonic() + 10
        while len(peer.frames) < 2 and time.monotonic() < deadline:
            transport.poll()  # as every tick of a node does
            await asyncio.sleep(0.01)
    assert len(peer.frames) == 2, "no probe followed an idle probe interval"
    probed_at, batch = peer.frames[1]
    assert batch == []  # an empty batch: "still here"
    assert probed_at - sent_at >= interval, "a link that had just sent was probed"


async def test_an_idle_link_probes_a_few_times_a_reachable_window_not_every_probe_interval():
    peer = StandInPeer()
    window = 1.2
    async with transport_to(peer, probe_interval_s=0.05, reachable_window_s=window) as transport:
        sent_at = time.monotonic()
        transport.send([beat(1)])
        await peer.wait_for(1)
        deadline = time.monotonic() + 10
        while len(peer.frames) < 2 and time.monotonic() < deadline:
            transport.poll()
            await asyncio.sleep(0.01)
    assert len(peer.frames) == 2, "an idle link was never probed"
    probed_at, batch = peer.frames[1]
    assert batch == []
    assert probed_at - sent_at >= window / PROBES_PER_WINDOW, "probed at the pace of the probe interval"


async def test_opening_a_stream_to_a_peer_that_never_answers_gives_up_within_the_timeout():
    # A listener whose accept queue is full drops further SYNs, as a peer behind a partition does.
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)

    try:
        async with transport_for(f"http://127.0.0.1:{port}", timeout_s=0.3) as transport:
            started = time.monotonic()
            while not transport.links["n2"].failing and time.monotonic() - started < 10:
                await asyncio.sleep(0.01)
            assert transport.links["n2"].failing
            assert time.monotonic() - started < 3  # the kernel alone would go on retrying the SYN
    finally:
        for s in (listener, *fillers):
            s.close()


async def test_a_peer_that_stays_down_is_tried_less_often_but_at_least_once_a_probe_interval(monkeypatch):
    attempts = 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal attempts
        attempts += 1
        writer.close()  # accepted, then dropped: every handshake fails

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pauses = RecordedPauses()
    monkeypatch.setattr(transport_module, "asyncio", pauses)
    try:
        async with transport_for(f"http://127.0.0.1:{port}", probe_interval_s=0.2):
            await pauses.wait_for(8, timeout=20)
    finally:
        server.close()
        await server.wait_closed()
    # Doubling after each failed try, up to the probe interval; never a fixed short pause.
    expected = [min(RETRY_PAUSE_S * 2**n, 0.2) for n in range(8)]
    assert pauses.seen[:8] == pytest.approx(expected), pauses.seen
    assert attempts >= 8, "a pause without a failed try before it"


class RecordedPauses:
    """Stands in for ``asyncio`` inside the transport module, whose only sleep is the pause between two
    tries of a stream: records each pause, then takes it."""

    def __init__(self) -> None:
        self.seen: list[float] = []
        self._changed = asyncio.Event()

    def __getattr__(self, name: str):
        return getattr(asyncio, name)

    async def sleep(self, seconds: float) -> None:
        self.seen.append(seconds)
        self._changed.set()
        await asyncio.sleep(seconds)

    async def wait_for(self, count: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while len(self.seen) < count:
                self._changed.clear()
                await self._changed.wait()

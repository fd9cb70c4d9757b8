"""Peer RPC: the core's messages as JSON over one long-lived WebSocket per peer and direction.

Each node opens a stream to every peer (``GET /internal/raft/stream``, announcing its versions) and
sends all its messages for that peer down it; what peers send to it arrives on the streams they
opened (``api/internal.py`` hands those messages to ``received``). A frame is one batch of messages.
A stream costs one HTTP request when it opens; after that a batch costs one frame, about a third of
the CPU an HTTP request and its response would, and a write needs several batches on every peer.

Each peer has its own queue and sender coroutine, so a slow or dead peer never delays the others
(docs/guarantees.md#peer-calls-that-outlive-the-election-timeout). A sender takes everything queued
for its peer and sends it as one frame, so batches grow by themselves under load, and TCP keeps them
in order. A batch whose stream breaks is dropped,
not retried: Raft re-sends what matters, and a stale retry would only add noise. A ping without a pong
(or a snapshot frame not sent within SNAPSHOT_TIMEOUT_S) breaks the stream; the sender reconnects.

The core sends a snapshot by reference; its file goes to a peer that takes chunks as a run of chunk
frames (snapshot_chunks.py), one between every two turns of the sender, after whatever else is queued
for that peer: heartbeats and appends wait for one chunk at most, never for the whole file, and each
chunk waits for the stream to drain, so no more than about a chunk is ever buffered for the peer. A
transfer cut short by a broken stream starts over, as a new transfer, on the next stream; one the core
replaces (a newer snapshot) or no longer wants (this node stopped leading in its term) stops. The
core asking for a snapshot the stream has already carried whole is not answered again until a new
stream opens: what TCP delivered in order has arrived, unless the stream broke. A peer
that did not accept the chunks' subprotocol when the stream opened (0.1.0) gets the snapshot whole,
in one frame, as before.

A stream proves who opened it with this node's certificate under mutual TLS, else with the cluster
secret (``api/internal.py``); the secret is then the only credential a stream carries. Under mutual TLS
a stream is also dropped unless the certificate at the other end names the member it was opened to.

A link that has carried nothing for a while sends an empty batch (``poll``, on every tick of the
node's clock), so that every peer hears from every node it can reach: a node must know how many peers
it can reach to say "2 of 4 nodes reachable; 3 needed" instead of "no leader", and to show the cluster
on the dashboard. A peer counts as reachable while something from it arrived within the last
``reachable_window_s`` and the stream to it is not failing: one slow frame under load does not make a
node look gone. So an idle link speaks PROBES_PER_WINDOW times a window, never more often than once a
probe interval: between two followers these probes are all that flows, every one costs a frame at both
ends, and a leader's link, which carries a heartbeat every probe interval, never probes at all (a probe
due on the tick of a heartbeat would go just before it, a frame for nothing).

In demo mode (node/demo.py) the transport is also where a node is cut off from its peers
(``cut_off``): nothing leaves, not even the probes, and what arrives is dropped, so to every peer the
node looks partitioned away while its HTTP API still answers. There too the messages sent are counted
for the dashboard (``traffic``). Neither exists outside demo mode.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
import orjson

from .api.headers import PEER_CLUSTER, PEER_VERSIONS
from .errors import RemovedFromCluster
from .raft import (
    AppendEntries,
    AppendResponse,
    Heartbeat,
    InstallSnapshot,
    Message,
    Snapshot,
    SnapshotMeta,
    to_wire,
)
from .snapshot_chunks import CHUNKS_PROTOCOL, OutgoingSnapshot
from .tls import member_named
from .traffic import DROPPED, LOST, SENT, Traffic
from .versions import this_node

log = logging.getLogger("todonode.transport")

RAFT_PATH = "/internal/raft"  # one batch per POST: for tools, and the original /replicate
STREAM_PATH = "/internal/raft/stream"
MAX_QUEUED = 4096  # messages waiting for one peer; beyond that the oldest go (Raft re-sends)
MAX_BATCH = 512
MAX_BATCH_BYTES = 256 * 1024 * 1024  # to and from 0.1.0, a snapshot travels whole, in one batch
SNAPSHOT_TIMEOUT_S = 60.0
# See _linger: part of how soon followers show a write (docs/guarantees.md#performance-targets).
NOTICE_LINGER_S = 0.001
RETRY_PAUSE_S = 0.02  # first pause after a failure, so a refused connection is not a busy loop
PROBES_PER_WINDOW = 4  # an idle link is heard this often within the reachable window, one probe lost or late


@dataclass
class PeerLink:
    peer: str
    url: str
    queue: deque[Message] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    reachable: bool = False  # as last reported through on_change
    failing: bool = False  # the stream to the peer could not be opened or broke, and is not back yet
    last_heard: float | None = None  # monotonic time something last arrived from the peer
    last_sent: float = 0.0  # monotonic time the last frame went to the peer (or a probe was asked for)
    timing: tuple[int, float] | None = None  # (last index, sent at) of the append being timed
    snapshot: OutgoingSnapshot | None = None  # the snapshot being sent in chunks
    delivered: tuple[SnapshotMeta, int] | None = None  # (meta, term) of the last one the stream took whole


class PeerTransport:
    def __init__(
        self,
        *,
        self_id: str,
        members: dict[str, str],
        secret: str | None,
        timeout_s: float,
        probe_interval_s: float,
        reachable_window_s: float,
        read_snapshot: Callable[[SnapshotMeta], Awaitable[bytes]],
        on_change: Callable[[str, bool], None] = lambda peer, up: None,
        ssl_context: ssl.SSLContext | None = None,
        snapshot_path: Callable[[SnapshotMeta], Path] | None = None,
        snapshot_chunk_bytes: int = 1024 * 1024,
    ):
        """``members``: id → the URL the member takes peer traffic at. ``secret``: the bearer token every
        stream carries, None when ``ssl_context`` presents a member's certificate instead.
        ``read_snapshot`` gives a snapshot whole (for a peer that takes it in one frame),
        ``snapshot_path`` its file, to send in chunks of ``snapshot_chunk_bytes`` (None: never)."""
        self.self_id = self_id
        self.links = {peer: PeerLink(peer, url) for peer, url in members.items() if peer != self_id}
        self._members = members
        self._headers = {PEER_VERSIONS: this_node().header()}
        if secret is not None:
            self._headers["Authorization"] = f"Bearer {secret}"
        self._ssl = ssl_context
        self._mutual = secret is None and ssl_context is not None
        self._timeout_s = timeout_s
        self._probe_interval = probe_interval_s
        self._window = reachable_window_s
        self._idle_probe_s = max(probe_interval_s, reachable_window_s / PROBES_PER_WINDOW)
        self._read_snapshot = read_snapshot
        self._snapshot_path = snapshot_path
        self._chunk_bytes = snapshot_chunk_bytes
        self._on_change = on_change
        self.on_rtt: Callable[[str, float], None] | None = None  # (peer, seconds), for metrics.py
        self.cluster_id: Callable[[], str | None] = lambda: None  # announced on every stream, once known
        self.on_removed: Callable[[str], None] = lambda peer: None  # a peer refused us: we were removed
        self.leads_in: Callable[[int], bool] = lambda term: True  # this node still leads in that term
        self.traffic: Traffic | None = None  # demo mode: every message sent is counted here
        self.isolated = False  # demo mode: cut off from every peer, both ways (cut_off)
        self._session: aiohttp.ClientSession | None = None
        self._senders: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            # Per peer: the stream, plus room for the status queries the API makes of the leader.
            connector=aiohttp.TCPConnector(limit_per_host=4, ssl=self._ssl or True),
            # Opening a stream to a peer behind a partition must give up as fast as a request would,
            # or the stream stays down for the kernel's SYN retries (up to a minute) after it heals.
            timeout=aiohttp.ClientTimeout(total=None, connect=self._timeout_s),
        )
        # The fan-out: one sender per peer, all running at once; none waits for another.
        for link in self.links.values():
            self._start_sender(link)

    def _start_sender(self, link: PeerLink) -> None:
        self._senders[link.peer] = asyncio.create_task(self._sender(link))

    async def stop(self) -> None:
        senders = list(self._senders.values())
        for sender in senders:
            sender.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        self._senders.clear()
        for link in self.links.values():
            self._end_snapshot(link)
        if self._session is not None:
            await self._session.close()

    def set_peers(self, peers: dict[str, str]) -> None:
        """The peers are now ``peers`` (id -> URL; node/members.py follows the configuration in effect):
        a new one gets a link and a sender, a departed one loses both, a moved one starts over."""
        for peer, link in list(self.links.items()):
            if peers.get(peer) != link.url:
                del self.links[peer]
                self._end_snapshot(link)
                sender = self._senders.pop(peer, None)
                if sender is not None:
                    sender.cancel()
        for peer, url in peers.items():
            if peer not in self.links and peer != self.self_id:
                link = self.links[peer] = PeerLink(peer, url)
                if self._session is not None:
                    self._start_sender(link)
        self._members = {**peers, self.self_id: self._members.get(self.self_id, "")}

    @property
    def session(self) -> aiohttp.ClientSession:
        """The node's client session for peers, also used by the API to ask the leader for status."""
        assert self._session is not None
        return self._session

    # ======================================================================================== outgoing

    def send(self, messages: tuple[Message, ...] | list[Message]) -> None:
        for m in messages:
            link = self.links.get(m.dst)
            if link is None:
                continue
            if self.traffic is not None:
                self.traffic.count(m, DROPPED if self.isolated else LOST if link.failing else SENT)
            if self.isolated:
                continue
            if len(link.queue) >= MAX_QUEUED:
                link.queue.popleft()
            link.queue.append(m)
            link.ready.set()

    async def _sender(self, link: PeerLink) -> None:
        pause = RETRY_PAUSE_S
        while True:
            try:
                async with self.session.ws_connect(
                    f"{link.url}{STREAM_PATH}?from={self.self_id}",
                    headers=self._stream_headers(),
                    timeout=aiohttp.ClientWSTimeout(ws_close=self._timeout_s),
                    # A ping every two timeouts; no pong within one closes the stream (a half-dead
                    # connection would otherwise swallow frames until TCP gives up, minutes later).
                    heartbeat=2 * self._timeout_s,
                    autoclose=True,
                    protocols=(CHUNKS_PROTOCOL,),  # accepted by a peer that takes snapshots in chunks
                ) as ws:
                    self._check_identity(link, ws)
                    if link.failing:
                        log.info("stream to %s open again", link.peer)
                    link.failing = False
                    pause = RETRY_PAUSE_S
                    self._report(link)
                    await self._stream(link, ws)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:  # OSError: ConnectionError too
                if (
                    isinstance(exc, aiohttp.WSServerHandshakeError)
                    and exc.status == RemovedFromCluster.status
                ):
                    self.on_removed(link.peer)
                if not link.failing:
                    log.debug("stream to %s failed: %s", link.peer, exc)
                link.failing = True
                self._report(link)
            await asyncio.sleep(pause)
            # A peer that stays down is tried less and less often, but at least once a probe interval.
            pause = min(2 * pause, self._probe_interval)

    def _stream_headers(self) -> dict[str, str]:
        cluster_id = self.cluster_id()
        return self._headers if cluster_id is None else {**self._headers, PEER_CLUSTER: cluster_id}

    def _check_identity(self, link: PeerLink, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Under mutual TLS, the certificate at the other end must name the member this stream is for:
        on one host, every member's certificate is valid for the host name."""
        if self._mutual:
            named = member_named(ws.get_extra_info("peercert"), self._members)
            if named != link.peer:
                presented = f"{named}'s" if named else "no member's"
                raise aiohttp.ClientConnectionError(f"{link.url} presented {presented} certificate")

    async def _stream(self, link: PeerLink, ws: aiohttp.ClientWebSocketResponse) -> None:
        # Nothing but pongs and a close ever come back; reading them is what notices the close.
        reader = asyncio.create_task(self._read_until_closed(ws))
        if link.snapshot is not None and ws.protocol == CHUNKS_PROTOCOL:
            link.snapshot.restart()  # the peer dropped what the broken stream had brought it
        else:
            self._end_snapshot(link)  # a peer now on 0.1.0: the core sends it again, then whole
        link.delivered = None
        try:
            while not ws.closed:
                if link.snapshot is None:
                    await link.ready.wait()
                link.ready.clear()
                if not link.queue and link.snapshot is None:
                    await self._send_frame(link, ws, [])  # poll() found the link idle: "still here"
                    continue
                if link.snapshot is None and all(
                    isinstance(m, Heartbeat) and m.is_commit_notice for m in link.queue
                ):
                    await self._linger(link)
                while link.queue:
                    batch = [link.queue.popleft() for _ in range(min(MAX_BATCH, len(link.queue)))]
                    await self._send_frame(link, ws, batch)
                if link.snapshot is not None:
                    await self._send_chunk(link, ws)
        finally:
            reader.cancel()
        raise ConnectionError(f"the stream closed: {ws.exception() or ws.close_code}")

    @staticmethod
    async def _linger(link: PeerLink) -> None:
        """A commit notice alone waits a moment for company. Under load the next write's append, which
        carries the commit index as well, follows within a millisecond: one frame then does for both,
        and every node handles one batch instead of two. Alone, it leaves after NOTICE_LINGER_S."""
        try:
            async with asyncio.timeout(NOTICE_LINGER_S):
                await link.ready.wait()
        except TimeoutError:
            pass
        link.ready.clear()

    @staticmethod
    async def _read_until_closed(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for _ in ws:
            pass

    async def _send_frame(
        self, link: PeerLink, ws: aiohttp.ClientWebSocketResponse, batch: list[Message]
    ) -> None:
        snapshot = False
        wire = []
        for m in batch:
            if isinstance(m, InstallSnapshot) and m.snapshot is not None and not m.snapshot.data:
                # The core sends snapshots by reference; the bytes come from disk only now.
                if self._snapshot_path is not None and ws.protocol == CHUNKS_PROTOCOL:
                    self._begin_snapshot(link, m, self._snapshot_path(m.snapshot.meta))
                    continue
                m = replace(m, snapshot=Snapshot(m.snapshot.meta, await self._read_snapshot(m.snapshot.meta)))
                snapshot = True
            elif isinstance(m, AppendEntries) and m.entries and link.timing is None:
                link.timing = (m.entries[-1].index, time.monotonic())
            wire.append(to_wire(m))
        if batch and not wire:
            return  # it held only a snapshot, which goes in chunks
        frame = orjson.dumps({"messages": wire})
        link.last_sent = time.monotonic()
        if snapshot:
            async with asyncio.timeout(SNAPSHOT_TIMEOUT_S):
                await ws.send_bytes(frame)
        else:
            # No timer per frame: a peer that stops reading stops answering pings too, and the
            # stream's heartbeat then breaks it.
            await ws.send_bytes(frame)

    def _begin_snapshot(self, link: PeerLink, message: InstallSnapshot, path: Path) -> None:
        """Send the snapshot ``message`` refers to in chunks, unless that is what is being sent."""
        if link.snapshot is not None and link.snapshot.same_as(message):
            return  # the core asking again while the chunks are still on their way
        if message.snapshot is not None and link.delivered == (message.snapshot.meta, message.term):
            # ... or after they all went down this stream, while the peer still decodes and installs
            # them (seconds at a million tasks, more than the core waits for an answer on a busy
            # machine): sent again, they would only be written and thrown away.
            return
        self._end_snapshot(link)
        link.snapshot = OutgoingSnapshot(message, path, self._chunk_bytes)

    def _end_snapshot(self, link: PeerLink) -> None:
        if link.snapshot is not None:
            link.snapshot.close()
            link.snapshot = None

    async def _send_chunk(self, link: PeerLink, ws: aiohttp.ClientWebSocketResponse) -> None:
        outgoing = link.snapshot
        assert outgoing is not None
        if not self.leads_in(outgoing.message.term):
            log.info(
                "stopped sending the snapshot at %d to %s: no longer leading", outgoing.meta.index, link.peer
            )
            self._end_snapshot(link)
            return
        try:
            frame = await outgoing.next_frame()
        except OSError as exc:  # the core sends a snapshot it holds again, after a while
            log.warning("cannot send the snapshot at %d to %s: %s", outgoing.meta.index, link.peer, exc)
            self._end_snapshot(link)
            return
        except ValueError:  # its file was closed while the chunk was read: the transfer was ended
            return
        if link.snapshot is not outgoing:
            return  # ended while the chunk was read (cut_off, set_peers): nothing more leaves
        if frame is None:
            link.delivered = (outgoing.meta, outgoing.message.term)
            log.info(
                "sent the snapshot at %d to %s in %d chunks",
                outgoing.meta.index,
                link.peer,
                outgoing.chunks_sent,
            )
            self._end_snapshot(link)
            return
        link.last_sent = time.monotonic()
        async with asyncio.timeout(SNAPSHOT_TIMEOUT_S):
            await ws.send_bytes(frame)

    def cut_off(self, isolated: bool) -> None:
        """Demo mode: drop every message to and from the peers (True), or let them flow again."""
        self.isolated = isolated
        if isolated:
            for link in self.links.values():
                link.queue.clear()
                self._end_snapshot(link)

    def poll(self) -> None:
        """On every tick (node/clock.py): a link that has sent nothing for a while (see the module's
        description) sends an empty batch, and a peer that fell silent is reported unreachable."""
        now = time.monotonic()
        for link in self.links.values():
            if now - link.last_sent >= self._idle_probe_s and not self.isolated:
                link.last_sent = now
                link.ready.set()
            self._report(link)

    # ======================================================================================== incoming

    def received(self, peer: str, messages: list[Message]) -> bool:
        """A frame from ``peer`` arrived on its stream to this node (api/internal.py). False: drop it
        (not from a peer, or this node is cut off)."""
        link = self.links.get(peer)
        if link is None or self.isolated:
            return False
        now = time.monotonic()
        link.last_heard = now
        if link.timing is not None:
            index, sent_at = link.timing
            for m in messages:
                if isinstance(m, AppendResponse) and m.success and m.match_index >= index:
                    link.timing = None
                    if self.on_rtt is not None:
                        self.on_rtt(peer, now - sent_at)
                    break
            else:
                if now - sent_at > self._window:
                    link.timing = None  # that append was lost; time another
        self._report(link)
        return True

    # ==================================================================================== reachability

    def is_reachable(self, peer: str) -> bool:
        link = self.links.get(peer)
        return link is not None and self._reachable(link)

    def _reachable(self, link: PeerLink) -> bool:
        return (
            not link.failing
            and link.last_heard is not None
            and time.monotonic() - link.last_heard < self._window
        )

    def reachable_count(self) -> int:
        return sum(self._reachable(link) for link in self.links.values())

    def last_contact_ms(self, peer: str) -> float | None:
        link = self.links.get(peer)
        if link is None or link.last_heard is None:
            return None
        return (time.monotonic() - link.last_heard) * 1000

    def _report(self, link: PeerLink) -> None:
        reachable = self._reachable(link)
        if reachable != link.reachable:
            link.reachable = reachable
            self._on_change(link.peer, reachable)

"""Peer RPC, client side: the core's messages as JSON over HTTP, one ordered pipeline per peer.

Each peer has its own queue and sender coroutine, so a slow or dead peer never delays the others
(PITFALLS 14). A sender takes everything queued for its peer and posts it as one batch, waits for the
answer, then sends the next batch: messages to one peer stay in order, and batches grow by themselves
under load. A request that fails or times out is dropped, not retried: Raft re-sends what matters,
and a stale retry would only add noise. Every request carries the cluster secret.

A link that has carried nothing for a probe interval sends an empty batch. Followers otherwise never
talk to each other, and every node needs to know how many peers it can reach: to say "2 of 4 nodes
reachable; 3 needed" instead of "no leader", and to show the cluster on the dashboard. A peer counts
as reachable while a request to it succeeded within the last ``reachable_window_s`` and its port has
not refused a connection since: one slow answer under load does not make a node look gone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

import aiohttp
import orjson

from .raft import InstallSnapshot, Message, Snapshot, SnapshotMeta, to_wire

log = logging.getLogger("todonode.transport")

RAFT_PATH = "/internal/raft"
MAX_QUEUED = 4096  # messages waiting for one peer; beyond that the oldest go (Raft re-sends)
MAX_BATCH = 512
SNAPSHOT_TIMEOUT_S = 60.0
RETRY_PAUSE_S = 0.02  # after a failure, so a refused connection does not become a busy loop


@dataclass
class PeerLink:
    peer: str
    url: str
    queue: deque[Message] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    reachable: bool = False  # as last reported through on_change
    refused: bool = False  # the last attempt found nothing listening: the peer is down
    last_ok: float | None = None  # monotonic time of the last successful request
    rtt_ms: float = 0.0
    sent: int = 0
    failed: int = 0


class PeerTransport:
    def __init__(
        self,
        *,
        self_id: str,
        members: dict[str, str],
        secret: str,
        timeout_s: float,
        probe_interval_s: float,
        reachable_window_s: float,
        read_snapshot: Callable[[SnapshotMeta], Awaitable[bytes]],
        on_change: Callable[[str, bool], None] = lambda peer, up: None,
    ):
        self.self_id = self_id
        self.links = {peer: PeerLink(peer, url) for peer, url in members.items() if peer != self_id}
        self._headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._probe_interval = probe_interval_s
        self._window = reachable_window_s
        self._read_snapshot = read_snapshot
        self._on_change = on_change
        self.on_rtt: Callable[[str, float], None] | None = None  # (peer, seconds), for metrics.py
        self._session: aiohttp.ClientSession | None = None
        self._senders: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # One keep-alive connection per peer is all an ordered pipeline needs.
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit_per_host=2))
        # The fan-out: one sender per peer, all running at once; none waits for another.
        self._senders = asyncio.create_task(self._fan_out())

    async def _fan_out(self) -> None:
        await asyncio.gather(*(self._sender(link) for link in self.links.values()))

    async def stop(self) -> None:
        if self._senders is not None:
            self._senders.cancel()
            await asyncio.gather(self._senders, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The node's client session, shared with the API for forwarding writes."""
        assert self._session is not None
        return self._session

    def send(self, messages: tuple[Message, ...] | list[Message]) -> None:
        for m in messages:
            link = self.links.get(m.dst)
            if link is None:
                continue
            if len(link.queue) >= MAX_QUEUED:
                link.queue.popleft()
            link.queue.append(m)
            link.ready.set()

    def is_reachable(self, peer: str) -> bool:
        link = self.links.get(peer)
        return link is not None and self._reachable(link)

    def _reachable(self, link: PeerLink) -> bool:
        return (
            not link.refused and link.last_ok is not None and time.monotonic() - link.last_ok < self._window
        )

    def reachable_count(self) -> int:
        return sum(self._reachable(link) for link in self.links.values())

    def last_contact_ms(self, peer: str) -> float | None:
        link = self.links.get(peer)
        if link is None or link.last_ok is None:
            return None
        return (time.monotonic() - link.last_ok) * 1000

    async def _sender(self, link: PeerLink) -> None:
        while True:
            try:
                await asyncio.wait_for(link.ready.wait(), self._probe_interval)
            except TimeoutError:
                await self._post(link, [])  # nothing to say for a while: check the peer is there
                continue
            link.ready.clear()
            while link.queue:
                batch = [link.queue.popleft() for _ in range(min(MAX_BATCH, len(link.queue)))]
                ok = await self._post(link, batch)
                if not ok:
                    await asyncio.sleep(RETRY_PAUSE_S)

    async def _post(self, link: PeerLink, batch: list[Message]) -> bool:
        started = time.monotonic()
        timeout = self._timeout
        try:
            wire = []
            for m in batch:
                if isinstance(m, InstallSnapshot) and m.snapshot is not None and not m.snapshot.data:
                    m = replace(
                        m, snapshot=Snapshot(m.snapshot.meta, await self._read_snapshot(m.snapshot.meta))
                    )
                    timeout = aiohttp.ClientTimeout(total=SNAPSHOT_TIMEOUT_S)
                wire.append(to_wire(m))
            body = orjson.dumps({"messages": wire})
            async with self.session.post(
                link.url + RAFT_PATH, data=body, headers=self._headers, timeout=timeout
            ) as resp:
                if resp.status >= 300:
                    text = (await resp.text())[:200]
                    raise aiohttp.ClientResponseError(
                        resp.request_info, resp.history, status=resp.status, message=text
                    )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            link.failed += 1
            link.refused = isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError)
            log.debug("request to peer %s failed: %s", link.peer, exc)
            self._report(link)
            return False
        link.sent += len(batch)
        link.refused = False
        link.last_ok = time.monotonic()
        link.rtt_ms = (link.last_ok - started) * 1000
        if self.on_rtt is not None:
            self.on_rtt(link.peer, link.last_ok - started)
        self._report(link)
        return True

    def _report(self, link: PeerLink) -> None:
        reachable = self._reachable(link)
        if reachable != link.reachable:
            link.reachable = reachable
            self._on_change(link.peer, reachable)

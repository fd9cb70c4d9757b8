"""Peer RPC, server side: the streams peers open to this node, and single batches by POST.

``GET /internal/raft/stream?from=<id>`` is a WebSocket on which a peer sends this node every batch of
Raft messages it has for it (see transport.py). ``POST /internal/raft`` steps one batch and is what
tools use; ``POST /replicate`` — the original system's replication hook, through which anyone could
once rewrite the data — is that same endpoint and nothing else. Only cluster members may speak here:
every request must carry the cluster secret as a bearer token, compared in constant time.

A stream's opening request announces the peer's versions (``X-Todonode-Versions``; none from 0.1.0).
A peer too old for the cluster version is refused with 409 ``version_mismatch`` naming both versions
(node/versioning.py).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from itertools import groupby

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from ..errors import ApiError, InvalidJson, Unauthorized, Validation
from ..raft import Message, WireError, from_wire
from ..transport import MAX_BATCH_BYTES
from ..versions import Announcement
from .headers import PEER_VERSIONS
from .keys import CONFIG, NODE

log = logging.getLogger("todonode.api.internal")

STREAMS = web.AppKey("raft_streams", set[web.WebSocketResponse])


class VersionMismatch(ApiError):
    status, code = 409, "version_mismatch"


def setup(app: web.Application) -> None:
    app[STREAMS] = set()
    app.on_shutdown.append(_close_streams)


def require_secret(request: web.Request) -> None:
    expected = f"Bearer {request.app[CONFIG].cluster.secret}".encode()
    # Header bytes that are not UTF-8 arrive as surrogate escapes: they must compare unequal, not crash.
    given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, expected):
        raise Unauthorized("This endpoint is for cluster members only; it needs the cluster secret.")


def _decode(raw: bytes | str) -> list[Message]:
    """A batch, as a POST body or a stream frame: ``{"messages": [...]}``."""
    try:
        return [from_wire(m) for m in orjson.loads(raw)["messages"]]
    except (orjson.JSONDecodeError, WireError, KeyError, TypeError) as exc:
        raise InvalidJson(f"not a batch of Raft messages: {exc}") from exc


async def receive_messages(request: web.Request) -> web.Response:
    require_secret(request)
    node = request.app[NODE]
    for sender, messages in groupby(_decode(await request.read()), key=lambda m: m.src):
        node.receive(sender, list(messages))
    return web.Response(status=204)


async def receive_stream(request: web.Request) -> web.WebSocketResponse:
    require_secret(request)
    node = request.app[NODE]
    peer = request.query.get("from", "")
    if peer == node.id or peer not in node.members:
        raise Validation(f"from must name another member of the cluster, not {peer[:64]!r}", field="from")
    # Snapshots travel as one frame, so a frame may be as large as the largest request body.
    ws = web.WebSocketResponse(max_msg_size=MAX_BATCH_BYTES)
    _admit(request, peer, ws)
    try:
        await ws.prepare(request)
    except BaseException:
        node.peer_stream_closed(peer, ws)  # its announcement must not outlive it
        raise
    streams = request.app[STREAMS]
    streams.add(ws)
    try:
        async for frame in ws:
            if frame.type is not WSMsgType.BINARY:
                await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"binary frames only")
                break
            try:
                messages = _decode(frame.data)
            except InvalidJson as exc:
                log.warning("closing the stream from %s: %s", peer, exc.message)
                await ws.close(code=WSCloseCode.INVALID_TEXT, message=b"not a batch of Raft messages")
                break
            node.receive(peer, messages)
    finally:
        streams.discard(ws)
        node.peer_stream_closed(peer, ws)
    return ws


def _admit(request: web.Request, peer: str, ws: web.WebSocketResponse) -> None:
    """Take the peer's announcement; refuse the stream of a peer too old for the cluster version."""
    try:
        announced = Announcement.parse(request.headers.get(PEER_VERSIONS))
    except ValueError as exc:
        raise Validation(str(exc), field=PEER_VERSIONS) from None
    refusal = request.app[NODE].peer_stream_opened(peer, announced, ws)
    if refusal is not None:
        raise VersionMismatch(refusal)


async def _close_streams(app: web.Application) -> None:
    """A stopping node closes the streams peers opened to it, or the server would wait for them."""
    streams = app[STREAMS]
    for ws in list(streams):
        with contextlib.suppress(OSError):  # the peer's connection may be gone already
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"node stopping")

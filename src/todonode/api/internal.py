"""Peer RPC, server side: the streams peers open to this node, and single batches by POST.

``GET /internal/raft/stream?from=<id>`` is a WebSocket on which a peer sends this node every batch of
Raft messages it has for it (see transport.py), and the chunks of a snapshot (snapshot_chunks.py).
``POST /internal/raft`` steps one batch and is what tools use; ``POST /replicate`` — the original
system's replication hook, through which anyone could once rewrite the data — is that same endpoint
and nothing else.

Only cluster members may speak here. With mutual TLS (``tls.ca_file``) a member is known by its
certificate (``tls.member_named``): the stream's ``from`` must be the member the certificate names, and
the cluster secret is not accepted. Without it, every request must carry the cluster secret as a bearer
token, compared in constant time, and any holder of the secret may speak for any member. Either way a
message whose ``src`` is not the member the request comes from is dropped and logged: one member's
credentials never let it speak for another.

A stream's opening request announces the peer's versions (``X-Todonode-Versions``; none from 0.1.0).
A peer too old for the cluster version is refused with 409 ``version_mismatch`` naming both versions
(node/versioning.py). It also names the peer's cluster (``X-Todonode-Cluster``, once the peer knows
it): a peer of another cluster is refused with 409 ``cluster_mismatch`` (node/identity.py).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from itertools import groupby

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from ..errors import ApiError, Forbidden, InvalidJson, RemovedFromCluster, Unauthorized, Validation
from ..node import Node
from ..raft import Message, WireError, from_wire
from ..snapshot_chunks import CHUNKS_PROTOCOL, decode_chunk, is_chunk_frame
from ..tls import member_named
from ..transport import MAX_BATCH_BYTES
from ..versions import Announcement
from .access import verified_certificate
from .headers import PEER_CLUSTER, PEER_VERSIONS
from .keys import CONFIG, NODE

log = logging.getLogger("todonode.api.internal")

STREAMS = web.AppKey("raft_streams", set[web.WebSocketResponse])


class VersionMismatch(ApiError):
    status, code = 409, "version_mismatch"


class ClusterMismatch(ApiError):
    status, code = 409, "cluster_mismatch"


def setup(app: web.Application) -> None:
    app[STREAMS] = set()
    app.on_shutdown.append(_close_streams)


def require_secret(request: web.Request) -> None:
    expected = f"Bearer {request.app[CONFIG].cluster.secret}".encode()
    # Header bytes that are not UTF-8 arrive as surrogate escapes: they must compare unequal, not crash.
    given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, expected):
        raise Unauthorized("This endpoint is for cluster members only; it needs the cluster secret.")


def authenticated_peer(request: web.Request) -> str | None:
    """The member this request comes from, by its certificate with mutual TLS (401 without one, 403 for
    one that names no other member); without mutual TLS the cluster secret is checked and any member may
    hold it, so None."""
    config = request.app[CONFIG]
    if not config.tls.mutual:
        require_secret(request)
        return None
    certificate = verified_certificate(request)
    if certificate is None:
        raise Unauthorized("This endpoint is for cluster members only; it needs a member's certificate.")
    member = member_named(certificate, config.members)
    if member is None or member == config.node.id:
        raise Forbidden("This certificate names no other member of the cluster.")
    return member


def _from_sender(sender: str, messages: list[Message]) -> list[Message]:
    """The messages whose ``src`` is ``sender``; any other is dropped, and the frame logged."""
    kept = [m for m in messages if m.src == sender]
    if len(kept) < len(messages):
        forged = next(m.src for m in messages if m.src != sender)
        log.warning(
            "dropped %d of %d messages from %s: their src (e.g. %r) is not the member that sent them",
            len(messages) - len(kept),
            len(messages),
            sender,
            forged[:64],
        )
    return kept


def _decode(raw: bytes | str) -> list[Message]:
    """A batch, as a POST body or a stream frame: ``{"messages": [...]}``."""
    try:
        return [from_wire(m) for m in orjson.loads(raw)["messages"]]
    except (orjson.JSONDecodeError, WireError, KeyError, TypeError) as exc:
        raise InvalidJson(f"not a batch of Raft messages: {exc}") from exc


async def receive_messages(request: web.Request) -> web.Response:
    certified = authenticated_peer(request)
    node = request.app[NODE]
    messages = _decode(await request.read())
    if certified is not None:
        messages = _from_sender(certified, messages)
    for sender, batch in groupby(messages, key=lambda m: m.src):
        node.receive(sender, list(batch))
    return web.Response(status=204)


async def receive_stream(request: web.Request) -> web.WebSocketResponse:
    certified = authenticated_peer(request)
    node = request.app[NODE]
    peer = request.query.get("from", "")
    if peer != node.id and peer not in node.members and node.was_member(peer):
        raise RemovedFromCluster(f"{peer[:64]} was removed from the cluster; it is no member any more")
    if peer == node.id or peer not in node.members:
        raise Validation(f"from must name another member of the cluster, not {peer[:64]!r}", field="from")
    if certified not in (None, peer):
        raise Forbidden(f"This certificate is {certified}'s; it cannot open {peer[:64]}'s stream.")
    # From 0.1.0 a snapshot travels as one frame, so a frame may be as large as the largest request body.
    ws = web.WebSocketResponse(max_msg_size=MAX_BATCH_BYTES, protocols=(CHUNKS_PROTOCOL,))
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
            if is_chunk_frame(frame.data):
                if not await _take_chunk(node, peer, frame.data):
                    await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"not a snapshot chunk")
                    break
                continue
            try:
                messages = _decode(frame.data)
            except InvalidJson as exc:
                log.warning("closing the stream from %s: %s", peer, exc.message)
                await ws.close(code=WSCloseCode.INVALID_TEXT, message=b"not a batch of Raft messages")
                break
            node.receive(peer, _from_sender(peer, messages))
    finally:
        streams.discard(ws)
        node.peer_stream_closed(peer, ws)
        await node.snapshot_stream_closed(peer)
    return ws


async def _take_chunk(node: Node, peer: str, frame: bytes) -> bool:
    """Hand a snapshot chunk from ``peer`` to the node; False if the frame is not a valid chunk. The
    stream reads its next frame only once the chunk is written: a peer can send no faster than this
    node stores."""
    try:
        chunk = decode_chunk(frame)
    except WireError as exc:
        log.warning("closing the stream from %s: %s", peer, exc)
        return False
    if chunk.src != peer:
        log.warning(
            "dropped a snapshot chunk from %s: its src %r is not the member that sent it",
            peer,
            chunk.src[:64],
        )
        return True
    await node.receive_snapshot_chunk(peer, chunk)
    return True


def _admit(request: web.Request, peer: str, ws: web.WebSocketResponse) -> None:
    """Take the peer's announcement; refuse the stream of a peer of another cluster, or of one too old
    for the cluster version."""
    foreign = request.app[NODE].foreign_peer(peer, request.headers.get(PEER_CLUSTER))
    if foreign is not None:
        raise ClusterMismatch(foreign)
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

"""Peer RPC, server side: ``POST /internal/raft`` takes a batch of Raft messages from a peer.

Only cluster members may speak here: every request must carry the cluster secret as a bearer token,
compared in constant time. ``POST /replicate`` — the original system's replication hook, through which
anyone could once rewrite the data — is the same authenticated endpoint and nothing else.
"""

from __future__ import annotations

import hmac

import orjson
from aiohttp import web

from ..errors import InvalidJson, Unauthorized
from ..raft import WireError, from_wire
from ..transport import RAFT_PATH
from .keys import CONFIG, NODE


def add_routes(app: web.Application) -> None:
    app.router.add_post(RAFT_PATH, receive_messages)
    app.router.add_post("/replicate", receive_messages)


def require_secret(request: web.Request) -> None:
    expected = f"Bearer {request.app[CONFIG].cluster.secret}".encode()
    # Header bytes that are not UTF-8 arrive as surrogate escapes: they must compare unequal, not crash.
    given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, expected):
        raise Unauthorized("This endpoint is for cluster members only; it needs the cluster secret.")


async def receive_messages(request: web.Request) -> web.Response:
    require_secret(request)
    try:
        raw = orjson.loads(await request.read())
        messages = [from_wire(m) for m in raw["messages"]]
    except (orjson.JSONDecodeError, WireError, KeyError, TypeError) as exc:
        raise InvalidJson(f"not a batch of Raft messages: {exc}") from exc
    request.app[NODE].receive(messages)
    return web.Response(status=204)

"""``GET /events``: the live stream the dashboard listens to, as Server-Sent Events.

``task`` events carry the log index as their SSE id, so a client that reconnects — to this node or
any other — with ``Last-Event-ID`` misses nothing; when the node cannot replay from there it sends
``reset`` and the client reloads the list. ``cluster`` events tell of roles, terms and peers. A comment
line every few seconds keeps proxies from closing an idle stream.

A node serves at most ``api.max_event_streams`` streams; one more is 503 ``overloaded`` with
``Retry-After``, so dashboards cannot hold every file the node may open. Peer streams are not
event streams and never count here.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..errors import Overloaded
from ..events import Event
from .access import require_client_token
from .cluster import status_body
from .keys import NODE

KEEPALIVE_S = 5.0
FULL_RETRY_AFTER_S = 5  # streams end when pages close; a few seconds frees a place


def _last_event_id(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


async def stream_events(request: web.Request) -> web.StreamResponse:
    require_client_token(request, write=False)  # task data: protected with api.protect_reads
    node = request.app[NODE]
    most = node.config.api.max_event_streams
    if node.events.subscribers >= most:
        raise Overloaded(
            f"this node already serves {most} event streams (api.max_event_streams); retry shortly or "
            "connect to another node",
            retry_after=FULL_RETRY_AFTER_S,
        )
    sub, backlog = node.events.subscribe(_last_event_id(request))
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    response.headers["X-Todonode-Node"] = node.id
    try:
        await response.prepare(request)
        await response.write(b"retry: 1000\n\n")
        hello = {"type": "hello", **status_body(node.status(), node.config.node.port)}
        await response.write(Event("cluster", hello).frame)
        for event in backlog:
            await response.write(event.frame)
        while not sub.overflowed:
            try:
                event = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            await response.write(event.frame)
        await response.write(Event("reset", {"reason": "client_too_slow"}).frame)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away
    finally:
        node.events.unsubscribe(sub)
    return response

"""``GET /events``: the live stream the dashboard listens to, as Server-Sent Events.

``task`` events carry the log index as their SSE id, so a client that reconnects — to this node or
any other — with ``Last-Event-ID`` misses nothing; when the node cannot replay from there it sends
``reset`` and the client reloads the list. ``cluster`` events tell of roles, terms and peers. A comment
line every few seconds keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from ..events import Event
from .access import require_client_token
from .cluster import status_body
from .keys import NODE

KEEPALIVE_S = 5.0


def _frame(event: Event) -> bytes:
    head = f"event: {event.kind}\n" + (f"id: {event.id}\n" if event.id is not None else "")
    return head.encode() + b"data: " + orjson.dumps(event.data) + b"\n\n"


def _last_event_id(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


async def stream_events(request: web.Request) -> web.StreamResponse:
    require_client_token(request, write=False)  # task data: protected with api.protect_reads
    node = request.app[NODE]
    sub, backlog = node.events.subscribe(_last_event_id(request))
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    response.headers["X-Todonode-Node"] = node.id
    try:
        await response.prepare(request)
        await response.write(b"retry: 1000\n\n")
        hello = {"type": "hello", **status_body(node.status(), node.config.node.port)}
        await response.write(_frame(Event("cluster", hello)))
        for event in backlog:
            await response.write(_frame(event))
        while not sub.overflowed:
            try:
                event = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            await response.write(_frame(event))
        await response.write(_frame(Event("reset", {"reason": "client_too_slow"})))
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away
    finally:
        node.events.unsubscribe(sub)
    return response

"""The classroom cluster's fault controls and live stream, served in demo mode only (config ``[demo]``):

- ``GET /demo``: the demo's state: each node's process (running, paused, down, restarting), whether it is
  cut off from its peers, how slow its disk is, and the factor every timing is multiplied by.
- ``POST /demo/nodes/{node}/{action}``: ``stop`` (kill -9), ``pause`` (SIGSTOP), ``resume`` (SIGCONT),
  ``restart`` (kill -9 if running, then start), ``isolate`` and ``heal`` (cut the node off from its
  peers, both ways, and reconnect it), ``slow-disk`` and ``normal-disk``. Answers with the new state.
- ``GET /demo/events``: Server-Sent Events: ``state`` on every change, ``report`` with what each node
  sent and did in its last interval (message counts, role changes, vote decisions).

Every node answers them by asking the demo supervisor (``scripts/cluster.py --demo``) over its control
socket: the supervisor started the nodes, so only it can stop, pause or restart one; and since any node
will do, the page keeps its controls when the node it talks to is the one stopped.

Only this machine may use them. A request from beyond loopback, or naming a Host that is not loopback
(a page on another site that rebinds its name to 127.0.0.1), gets the 404 of a route that does not
exist. A control must also be JSON and, when it carries an ``Origin``, come from one of the cluster's:
a page on another site cannot send JSON across origins without a CORS preflight, and only the cluster's
origins pass it (cors.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from ..config import is_loopback_host
from ..errors import ApiError, UnsupportedMediaType
from ..node.demo import ACTIONS, SUPERVISOR_URL
from .cors import origin_allowed
from .errors import json_response
from .keys import CONFIG, NODE

SUPERVISOR = web.AppKey("demo_supervisor", aiohttp.ClientSession)
RELAYS = web.AppKey("demo_relays", set[aiohttp.ClientResponse])
CONTROL_TIMEOUT_S = 10.0  # a restart waits for the old process to go; stopping one is quicker
CONNECT_TIMEOUT_S = 1.0


class SupervisorUnavailable(ApiError):
    status, code = 503, "demo_unavailable"


def setup(app: web.Application) -> None:
    """In demo mode: the session to the supervisor, owned by the app; streams still relayed when the node
    stops are closed, so they do not hold the shutdown up."""
    app[RELAYS] = set()
    app.cleanup_ctx.append(_supervisor_session)
    app.on_shutdown.append(_close_relays)


async def _supervisor_session(app: web.Application) -> AsyncIterator[None]:
    socket = app[CONFIG].demo.supervisor
    assert socket is not None, "demo routes are installed in demo mode only"
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(socket))) as session:
        app[SUPERVISOR] = session
        yield


async def _close_relays(app: web.Application) -> None:
    relays = app[RELAYS]
    for upstream in [*relays]:
        upstream.close()


def _only_from_this_machine(request: web.Request) -> None:
    host = urlsplit(f"//{request.host}").hostname or ""
    if not (request.remote and is_loopback_host(request.remote) and is_loopback_host(host)):
        raise web.HTTPNotFound()


async def state(request: web.Request) -> web.Response:
    _only_from_this_machine(request)
    return await _ask(request, "GET", "/state")


async def control(request: web.Request) -> web.Response:
    _only_from_this_machine(request)
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send Content-Type: application/json (the body may be {})")
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(request, origin):
        raise web.HTTPNotFound()
    node, action = request.match_info["node"], request.match_info["action"]
    if node not in request.app[NODE].members or action not in ACTIONS:
        raise web.HTTPNotFound()
    return await _ask(request, "POST", f"/nodes/{node}/{action}")


async def _ask(request: web.Request, method: str, path: str) -> web.Response:
    session = request.app[SUPERVISOR]
    timeout = aiohttp.ClientTimeout(total=CONTROL_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    try:
        async with session.request(method, SUPERVISOR_URL + path, timeout=timeout) as resp:
            body: Any = await resp.json()
            return json_response(body, resp.status)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise _gone(exc) from None


async def events(request: web.Request) -> web.StreamResponse:
    _only_from_this_machine(request)
    session = request.app[SUPERVISOR]
    timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT_S)
    try:
        upstream = await session.get(f"{SUPERVISOR_URL}/events", timeout=timeout)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise _gone(exc) from None
    relays = request.app[RELAYS]
    relays.add(upstream)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    try:
        await response.prepare(request)
        # The supervisor's stream as it comes; it sends a comment now and then, so a page that left is
        # noticed at the next write even when nothing happens.
        with contextlib.suppress(aiohttp.ClientError):
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
    except ConnectionResetError:
        pass  # the page went away
    finally:
        relays.discard(upstream)
        upstream.close()
    return response


def _gone(exc: Exception) -> SupervisorUnavailable:
    return SupervisorUnavailable(
        f"the demo supervisor does not answer ({exc.__class__.__name__}); is `make demo` still running?",
        retry_after=1,
    )

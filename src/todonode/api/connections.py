"""The node's connections as sockets: which ones it keeps, how long a request may take to arrive, and
what a client it turns away is told. The budget itself — pools, caps, who makes room — is
``connection_budget.py``; this module applies it to the server's sockets.

* Every accepted socket goes through the budget first; one it refuses gets a short 503 with
  ``Retry-After`` and is closed without a request being read.
* A request's head (request line and headers) must have arrived ``api.header_timeout_s`` after the
  connection opened, or after its first byte on a kept-alive connection; a body, within
  ``api.body_timeout_s`` (body.py). A connection too slow is answered 408 and closed. Between
  requests, a connection idle for ``api.keepalive_timeout_s`` is closed (aiohttp's keep-alive timer).
  With TLS, the handshake too must be done within ``api.header_timeout_s``.
* A request on a peer route from a member — by its certificate with mutual TLS, else by the cluster
  secret (``internal.authenticated_peer``) — moves its connection to the peer pool. With
  ``node.peer_port`` peers have a listener of their own, and none of this listener's places is kept
  for them.
* At start, the process's open-file limit is raised to what the caps need (``fit_open_files``).

Sockets are seen through ``GuardedSite``, which the command's server uses (cli.py); an app served any
other way (the in-process tests) has the middleware but no budget, and the middleware does nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import cast

import orjson
from aiohttp import web

from ..config import Config
from ..errors import ApiError, Overloaded
from .connection_budget import Connection, ConnectionBudget, Pool
from .errors import Handler, error_response
from .internal import authenticated_peer

log = logging.getLogger("todonode.api.connections")

PEER_CONNECTIONS_PER_MEMBER = 4  # a peer's transport opens at most this many here (its limit_per_host)
FORWARDING_CONNECTIONS = 256 + 8  # forwarding.py's pools: for clients, and as a member
OTHER_FILES = 64  # the log, the snapshots, the lock, the event loop's own
RETRY_AFTER_S = 1


def _canned(status: int, reason: str, error: str, message: str, extra: str = "") -> bytes:
    """A whole response, for a connection no handler will answer."""
    body = orjson.dumps({"error": error, "message": message})
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{extra}"
        f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


REFUSED = _canned(
    503,
    "Service Unavailable",
    "overloaded",
    "this node has as many connections as it takes (api.max_connections, "
    "api.max_connections_per_client); retry shortly",
    f"Retry-After: {RETRY_AFTER_S}\r\n",
)
TOO_SLOW = _canned(
    408, "Request Timeout", "request_timeout", "the request did not arrive in time (api.header_timeout_s)"
)


class Connections:
    """One app's connections: the budget, the open ones by transport, and what each has cost."""

    def __init__(self, config: Config, peer_paths: frozenset[str]) -> None:
        api = config.api
        self.budget = ConnectionBudget(
            max_clients=api.max_connections,
            per_address=api.max_connections_per_client,
            peer_reserve=0 if config.node.peer_port is not None else _peer_connections(config),
        )
        self.header_timeout_s = api.header_timeout_s
        self.peer_paths = peer_paths
        self.refused = self.evicted = self.timed_out = 0  # since start, for /metrics
        self._open: dict[asyncio.BaseTransport, Connection] = {}

    def accept(self, transport: asyncio.Transport) -> Connection | None:
        """A new socket: its Connection, or None when it was turned away (and closed)."""
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) else "local"
        admission = self.budget.admit(address)
        if admission.evicted is not None:
            self.evicted += 1
            self._close(admission.evicted, None)
        connection = admission.connection
        if connection is None:
            self.refused += 1
            transport.write(REFUSED)
            transport.close()
            return None
        connection.handle = _Handle(transport)
        self._open[transport] = connection
        self._wait_for_head(connection)
        return connection

    def bytes_arrived(self, connection: Connection) -> None:
        """Part of a request arrived: its head must be whole within the header timeout."""
        handle: _Handle = connection.handle
        if not connection.busy and handle is not None and handle.timer is None:
            self._wait_for_head(connection)

    def start_request(self, connection: Connection) -> None:
        handle: _Handle = connection.handle
        if handle is not None and handle.timer is not None:
            handle.timer.cancel()
            handle.timer = None
        self.budget.start_request(connection)

    def end_request(self, connection: Connection) -> None:
        self.budget.end_request(connection)

    def closed(self, connection: Connection) -> None:
        handle: _Handle | None = connection.handle
        if handle is not None:
            if handle.timer is not None:
                handle.timer.cancel()
            self._open.pop(handle.transport, None)
            connection.handle = None
        self.budget.release(connection)

    def of(self, request: web.Request) -> Connection | None:
        transport = request.transport
        return None if transport is None else self._open.get(transport)

    def counts(self) -> dict[str, int]:
        return {"client": self.budget.clients, "peer": self.budget.peers}

    def _wait_for_head(self, connection: Connection) -> None:
        loop = asyncio.get_running_loop()
        connection.handle.timer = loop.call_later(self.header_timeout_s, self._too_slow, connection)

    def _too_slow(self, connection: Connection) -> None:
        if connection.busy or connection.handle is None:
            return
        self.timed_out += 1
        self._close(connection, TOO_SLOW)

    def _close(self, connection: Connection, last_words: bytes | None) -> None:
        handle: _Handle | None = connection.handle
        if handle is None:
            return
        if last_words is not None:
            handle.transport.write(last_words)
        handle.transport.close()
        self.closed(connection)


@dataclasses.dataclass(slots=True)
class _Handle:
    transport: asyncio.Transport
    timer: asyncio.TimerHandle | None = None


class _GuardedProtocol(asyncio.Protocol):
    """aiohttp's protocol for one socket, behind the budget: it is made only for a socket the budget
    takes, and it is told of every byte that arrives so that the head timer can start."""

    def __init__(self, connections: Connections, make_handler: Callable[[], asyncio.Protocol]) -> None:
        self._connections = connections
        self._make_handler = make_handler
        self._connection: Connection | None = None
        self._handler: asyncio.Protocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's are not asyncio.Transport subclasses, so no isinstance).
        self._connection = self._connections.accept(cast(asyncio.Transport, transport))
        if self._connection is not None:
            self._handler = self._make_handler()
            self._handler.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._handler is not None and self._connection is not None:
            self._connections.bytes_arrived(self._connection)
            self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received() if self._handler is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._connection is not None:
            self._connections.closed(self._connection)
        if self._handler is not None:
            self._handler.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()


CONNECTIONS = web.AppKey("connections", Connections)


def setup(app: web.Application, config: Config, peer_paths: frozenset[str]) -> None:
    app[CONNECTIONS] = Connections(config, peer_paths)


@web.middleware
async def connections_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    connections = request.app[CONNECTIONS]
    connection = connections.of(request)
    if connection is None:
        return await handler(request)
    connections.start_request(connection)
    task = asyncio.current_task()
    assert task is not None, "aiohttp runs each request in a task of its own"
    # Done once the response is written, not when the handler returns: only then may the connection
    # be closed to make room.
    task.add_done_callback(lambda _: connections.end_request(connection))
    if request.path in connections.peer_paths and _is_member(request):
        connections.budget.prove_peer(connection)
    elif connection.pool is Pool.RESERVE:
        refused = error_response(
            Overloaded(
                "this node has as many client connections as it takes (api.max_connections); retry shortly",
                retry_after=RETRY_AFTER_S,
            )
        )
        refused.force_close()
        return refused
    return await handler(request)


def _is_member(request: web.Request) -> bool:
    try:
        authenticated_peer(request)
    except ApiError:
        return False
    return True


class GuardedSite(web.SockSite):
    """A listening socket whose connections go through the app's budget."""

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site; SockSite.start would bypass the budget
        server = self._runner.server
        assert server is not None and isinstance(self._runner, web.AppRunner)
        connections = self._runner.app[CONNECTIONS]

        def guarded() -> asyncio.Protocol:
            return _GuardedProtocol(connections, server)

        # With TLS the protocol (and so the budget) sees a socket only once its handshake is done; a
        # client that stalls the handshake is held to the head's deadline instead of the default 60 s.
        self._server = await asyncio.get_running_loop().create_server(
            guarded,
            sock=self._sock,
            ssl=self._ssl_context,
            backlog=self._backlog,
            ssl_handshake_timeout=connections.header_timeout_s if self._ssl_context else None,
        )


def _peer_connections(config: Config) -> int:
    """The connections the other members open to this node, at most."""
    return PEER_CONNECTIONS_PER_MEMBER * (len(config.members) - 1)


def files_needed(config: Config) -> int:
    """Open files the node may need at once with its connection caps full."""
    listeners = 1 if config.node.peer_port is None else 2
    return (
        listeners
        + config.api.max_connections
        + 2 * _peer_connections(config)  # peers' connections here (on either listener), and ours to them
        + FORWARDING_CONNECTIONS
        + OTHER_FILES
    )


def fit_open_files(config: Config) -> Config:
    """Raise this process's soft open-file limit to what ``config``'s caps need, as far as the hard
    limit allows; when that is not far enough, the config with ``api.max_connections`` lowered to fit
    (said in the log), so the node refuses connections it cannot hold instead of failing on them."""
    try:
        import resource
    except ImportError:  # not a Unix: the system decides
        return config
    need = files_needed(config)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        soft = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft == resource.RLIM_INFINITY or soft >= need:
        return config
    fitting = max(1, config.api.max_connections - (need - soft))
    log.warning(
        "the open-file limit is %d (hard limit %d), %d short of what api.max_connections = %d needs: taking "
        "at most %d client connections (raise the limit with ulimit -n, or LimitNOFILE= under systemd)",
        soft,
        hard,
        need - soft,
        config.api.max_connections,
        fitting,
    )
    return dataclasses.replace(config, api=dataclasses.replace(config.api, max_connections=fitting))

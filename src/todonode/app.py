"""The aiohttp application factory: one app per node, serving the API and the dashboard, and owning
the node's lifetime through ``cleanup_ctx`` (started with the server, stopped and awaited with it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from .api import backup, connections, cors, demo, internal, metrics, routes, tasks, trusted_hosts
from .api.connections import connections_middleware
from .api.cors import cors_middleware
from .api.errors import error_middleware
from .api.forwarding import FORWARDER, Forwarder
from .api.keys import CONFIG, NODE
from .api.trusted_hosts import trusted_hosts_middleware
from .config import Config
from .node import Node
from .scheduled_backups import ScheduledBackups
from .transport import MAX_BATCH_BYTES

# How long a connection whose request body was not read whole (refused, or too slow) is drained
# before it is closed, so that its client reads the answer rather than a reset.
LINGER_S = 2.0


def create_app(config: Config, node: Node | None = None) -> web.Application:
    app = web.Application(
        # A request to a name the node does not answer to, or a write from a page it does not trust,
        # is refused before anything else sees it (trusted_hosts.py). cors_middleware answers
        # preflights before routing can refuse them; cors.setup stamps the CORS headers on every
        # response, errors and the /events stream included.
        # connections_middleware tells the connection budget which connection is busy, and which is a
        # peer's (api/connections.py).
        middlewares=[error_middleware, connections_middleware, trusted_hosts_middleware, cors_middleware],
        # Peers send batches of entries and snapshots: the body limit for clients is enforced per
        # route (api/body.py); this is the hard ceiling for everything.
        client_max_size=max(config.api.max_body_bytes, MAX_BATCH_BYTES),
        handler_args={"keepalive_timeout": config.api.keepalive_timeout_s, "lingering_time": LINGER_S},
    )
    app[CONFIG] = config
    app[NODE] = node or Node(config)
    app.cleanup_ctx.append(_node_lifetime)
    if config.backup.enabled:  # started after the node, stopped before it
        app.cleanup_ctx.append(ScheduledBackups(app[NODE], config.backup).lifetime)
    forwarder = app[FORWARDER] = Forwarder()
    app.cleanup_ctx.append(forwarder.lifetime)
    trusted_hosts.setup(app, config)
    connections.setup(app, config, routes.peer_paths())
    tasks.setup(app)
    backup.setup(app)
    cors.setup(app)
    internal.setup(app)
    if config.api.metrics:
        metrics.setup(app)
    if config.demo.enabled:
        demo.setup(app)
    routes.install(app, config)
    return app


def create_peer_app(config: Config, node: Node) -> web.Application:
    """The peer listener's application (``node.peer_port``): the peer routes alone, served for the node
    that the client listener's application runs (and starts and stops)."""
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BATCH_BYTES)
    app[CONFIG] = config
    app[NODE] = node
    internal.setup(app)
    routes.install(app, config, peer_listener=True)
    return app


async def _node_lifetime(app: web.Application) -> AsyncIterator[None]:
    node = app[NODE]
    await node.start()
    yield
    await node.stop()

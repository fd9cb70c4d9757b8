"""``GET /metrics``: the node's metrics in the Prometheus text format (``metrics.py`` says what they are).

Registered only with ``api.metrics = true`` (the default). Every HTTP response is counted by route
template (``/tasks/{id}``, not each id), method and status, just before its headers leave: that reaches
error responses and the ``/events`` stream alike.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..metrics import Metrics
from .connections import CONNECTIONS, Connections
from .keys import NODE

METRICS = web.AppKey("metrics", Metrics)


def setup(app: web.Application) -> None:
    """Measure the node (before it starts) and every response."""
    metrics = Metrics(app[NODE])
    metrics.attach()
    metrics.registry.register(ConnectionCollector(app[CONNECTIONS]))
    app[METRICS] = metrics
    app.on_response_prepare.append(_count_response)


async def serve(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _count_response(request: web.Request, response: web.StreamResponse) -> None:
    info = request.match_info
    # No route matched (404, 405): one label for all of them, whatever path was asked for.
    route = (
        info.route.resource.canonical if info.route.resource is not None and not info.http_exception else ""
    )
    request.app[METRICS].http_response(route or "unmatched", request.method, response.status)


class ConnectionCollector(Collector):
    """The connection budget at scrape time (connections.py)."""

    def __init__(self, connections: Connections) -> None:
        self._connections = connections

    def collect(self) -> Iterator[Metric]:
        c = self._connections
        open_now = GaugeMetricFamily("todonode_connections", "Open connections, by pool", labels=["pool"])
        for pool, count in c.counts().items():
            open_now.add_metric([pool], count)
        yield open_now
        for name, help_text, value in (
            ("todonode_connections_refused", "Connections turned away: every place was busy", c.refused),
            ("todonode_connections_evicted", "Idle connections closed to make room for a new one", c.evicted),
            (
                "todonode_connections_timed_out",
                "Connections closed: a request head came too slowly",
                c.timed_out,
            ),
        ):
            yield CounterMetricFamily(name, help_text, value=value)

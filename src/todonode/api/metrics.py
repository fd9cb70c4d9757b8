"""``GET /metrics``: the node's metrics in the Prometheus text format (``metrics.py`` says what they are).

Registered only with ``api.metrics = true`` (the default). Every HTTP response is counted by route
template (``/tasks/{id}``, not each id), method and status, just before its headers leave: that reaches
error responses and the ``/events`` stream alike.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..metrics import Metrics
from .keys import NODE

METRICS = web.AppKey("metrics", Metrics)


def setup(app: web.Application) -> None:
    """Measure the node (before it starts) and every response."""
    metrics = Metrics(app[NODE])
    metrics.attach()
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

"""Every error a client sees is JSON, ``{"error": code, "message": ...}``, never a traceback.

The middleware here is the one place that turns exceptions into responses: the node's ApiErrors keep
their status and code, aiohttp's own HTTP errors (unknown route, wrong method, body too large) get
codes of ours, and anything unexpected is logged with its traceback on the server and answered with a
plain 500 that says nothing about the code. It also stamps every response with the serving node.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from ..errors import ApiError
from . import headers
from .keys import NODE

log = logging.getLogger("todonode.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HTTP_CODES = {
    400: ("bad_request", "The request could not be read."),
    404: ("not_found", "No such endpoint. GET /openapi.json lists them."),
    405: ("method_not_allowed", "This endpoint does not support that method."),
    413: ("payload_too_large", "The request body is larger than this node accepts."),
    414: ("uri_too_long", "The URL is too long."),
    431: ("headers_too_large", "The request headers are too large."),
}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def error_response(exc: ApiError) -> web.Response:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return json_response(exc.body(), exc.status, headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except ApiError as exc:
        response = error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, message = _HTTP_CODES.get(exc.status, ("http_error", exc.reason))
        response = json_response({"error": code, "message": message}, exc.status, _allow_header(exc))
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        response = json_response(
            {"error": "internal_error", "message": "The node failed to handle this request; it was logged."},
            500,
        )
    _stamp(request, response)
    return response


def _allow_header(exc: web.HTTPException) -> dict[str, str]:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else {}


def _stamp(request: web.Request, response: web.StreamResponse) -> None:
    """Which node answered and how far it had applied: lets a client see where a write went and ask
    any node for read-your-writes with ?min_index=."""
    if response.prepared:
        return
    node = request.app[NODE]
    response.headers.setdefault(headers.NODE, node.id)
    response.headers[headers.APPLIED_INDEX] = str(node.applied)

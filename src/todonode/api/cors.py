"""Cross-origin access for the dashboard: a page served by one node keeps working after it fails over
to another node, which is a different origin (another port or host).

Only the origins in ``api.cors_origins`` are allowed (by default the cluster's own node origins, see
config.py); ``"*"`` allows any. ``localhost`` and ``127.0.0.1`` (and ``[::1]``) name the same machine, so a
page opened as ``http://localhost:4000`` is treated as ``http://127.0.0.1:4000`` when that one is allowed.

Two pieces, because aiohttp streams some responses:

- ``cors_middleware`` answers preflight requests (``OPTIONS`` with ``Access-Control-Request-Method``) by
  itself, before routing can turn them into 404 or 405: a preflight to any path gets an answer.
- ``stamp_cors_headers`` runs on ``on_response_prepare``, just before any response's headers leave. It
  therefore also reaches the ``/events`` stream (prepared inside its handler) and the error responses
  made by ``error_middleware``, which a middleware's return path would miss.

Nothing here decides what a request may do: CORS only lets the browser show the answer to the page.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from aiohttp import web

from ..config import is_loopback_host
from .errors import Handler, json_response
from .keys import CONFIG

ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOW_HEADERS = "Content-Type, Idempotency-Key, If-Match, Authorization, Last-Event-ID"
EXPOSE_HEADERS = (
    "X-Todonode-Node, X-Todonode-Leader, X-Todonode-Forwarded-By, X-Todonode-Applied-Index, "
    "ETag, Idempotent-Replayed, Retry-After"
)
MAX_AGE_S = 600  # browsers cache a preflight this long (Chromium caps it at 7200)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK = "loopback"


def setup(app: web.Application) -> None:
    """Register the response hook; ``cors_middleware`` goes in the app's middleware list."""
    app.on_response_prepare.append(stamp_cors_headers)


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return await handler(request)
    origin = request.headers.get("Origin")
    if origin is None or not origin_allowed(request, origin):
        return json_response(
            {
                "error": "origin_not_allowed",
                "message": f"Cross-origin requests from {origin or 'this page'} are not allowed; add the "
                "origin to api.cors_origins in the node's config.",
            },
            403,
        )
    # The origin headers themselves are added by stamp_cors_headers, as for every other response.
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": str(MAX_AGE_S),
        },
    )


async def stamp_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    origin = request.headers.get("Origin")
    headers = response.headers
    # Caches must not hand one origin's answer to another.
    if "origin" not in ",".join(headers.getall("Vary", [])).lower():
        headers.add("Vary", "Origin")
    if origin is None or not origin_allowed(request, origin):
        return
    headers["Access-Control-Allow-Origin"] = origin
    headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS


def origin_allowed(request: web.Request, origin: str) -> bool:
    allowed = request.app[CONFIG].api.cors_origins
    if "*" in allowed:
        return True
    key = _origin_key(origin)
    return key is not None and key in _allowed_keys(allowed)


@functools.cache
def _allowed_keys(origins: tuple[str, ...]) -> frozenset[tuple[str, str, int] | None]:
    return frozenset(_origin_key(o) for o in origins)


def _origin_key(origin: str) -> tuple[str, str, int] | None:
    """``origin`` as (scheme, host, port) with the default port filled in and every loopback name made
    one; None for what is not an http(s) origin (e.g. the literal ``null`` of a sandboxed page)."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = _LOOPBACK if is_loopback_host(parts.hostname) else parts.hostname
    return parts.scheme, host, port or _DEFAULT_PORTS[parts.scheme]

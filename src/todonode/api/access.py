"""Who may do what: the optional client token (``api.token``) and the cluster secret.

* Every write to the task list needs the client token when one is configured; reads of task data
  (``/tasks``, ``/tasks/{id}``, ``/events``) need it too with ``api.protect_reads``. Status, health,
  metrics and the schema stay open: they carry no task data and monitoring must reach them.
* Cluster administration (``POST /cluster/transfer-leader``) needs the cluster secret, or the client
  token when one is configured: an operator holding either may move the leadership.
* Peer RPC needs the cluster secret (``api/internal.py``).

Tokens are compared in constant time, as bytes: header bytes that are not UTF-8 arrive as surrogate
escapes and must compare unequal, never crash.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from ..config import ApiSection
from ..errors import Unauthorized
from .keys import CONFIG


def _bearer(request: web.Request) -> bytes:
    return request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")


def _is(given: bytes, token: str) -> bool:
    return hmac.compare_digest(given, f"Bearer {token}".encode())


def require_client_token(request: web.Request, *, write: bool) -> ApiSection:
    """The client token, if configured: needed for writes, and for reads with ``protect_reads``."""
    api = request.app[CONFIG].api
    if api.token is None or not (write or api.protect_reads):
        return api
    if not _is(_bearer(request), api.token):
        raise Unauthorized("this node needs the client token: send the header Authorization: Bearer <token>")
    return api


def require_admin(request: web.Request) -> None:
    """The cluster secret, or the client token when one is configured."""
    config = request.app[CONFIG]
    given = _bearer(request)
    if _is(given, config.cluster.secret) or (config.api.token is not None and _is(given, config.api.token)):
        return
    raise Unauthorized(
        "cluster administration needs the cluster secret (or the client token, when the nodes have one): "
        "send the header Authorization: Bearer <secret>"
    )

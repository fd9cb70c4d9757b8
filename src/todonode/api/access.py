"""Who may do what. Three roles, each allowed everything the one before it is:

* anyone: status, health, metrics, the schema and the dashboard; reads of task data (``/tasks``,
  ``/tasks/{id}``, ``/events``) unless ``api.protect_reads``; writes when no client token is configured.
* a client, with the client token (``api.token``): writes, and reads with ``api.protect_reads``.
* an administrator, with the admin token (``api.admin_token``) or the cluster's own credentials — the
  cluster secret, or (with ``tls.ca_file``) a certificate signed by the cluster's CA: cluster
  administration (every route marked ``admin`` in routes.py, e.g. ``POST /cluster/transfer-leader``).
  The client token is refused there with 403: whoever may write must not be able to keep moving the
  leadership, and with it stall every write.

Peer RPC needs a member's own credentials (``api/internal.py``). Tokens are compared in constant time,
as bytes: header bytes that are not UTF-8 arrive as surrogate escapes and must compare unequal, never
crash.
"""

from __future__ import annotations

import hmac
from enum import IntEnum

from aiohttp import web

from ..config import ApiSection
from ..errors import Forbidden, Unauthorized
from ..tls import PeerCertificate
from .keys import CONFIG


class Role(IntEnum):
    ANYONE = 0
    CLIENT = 1
    ADMIN = 2


def _bearer(request: web.Request) -> bytes:
    return request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")


def _is(given: bytes, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(given, f"Bearer {token}".encode())


def verified_certificate(request: web.Request) -> PeerCertificate | None:
    """The client certificate the TLS handshake verified against ``tls.ca_file``, if one was sent."""
    transport = request.transport
    certificate = transport.get_extra_info("peercert") if transport is not None else None
    return certificate or None


def role_of(request: web.Request) -> Role:
    config = request.app[CONFIG]
    if config.tls.mutual and verified_certificate(request) is not None:
        return Role.ADMIN
    given = _bearer(request)
    if _is(given, config.cluster.secret) or _is(given, config.api.admin_token):
        return Role.ADMIN
    return Role.CLIENT if _is(given, config.api.token) else Role.ANYONE


def require_client_token(request: web.Request, *, write: bool) -> ApiSection:
    """The client token (or more), if configured: needed for writes, and for reads with ``protect_reads``."""
    api = request.app[CONFIG].api
    if api.token is None or not (write or api.protect_reads):
        return api
    if role_of(request) < Role.CLIENT:
        raise Unauthorized("this node needs the client token: send the header Authorization: Bearer <token>")
    return api


def require_admin(request: web.Request) -> None:
    """The admin token or the cluster's credentials; 403 for the client token, 401 for anything else."""
    role = role_of(request)
    if role is Role.ADMIN:
        return
    needed = "the admin token (api.admin_token) or the cluster's credentials (its secret, or a certificate"
    needed += " signed by its CA)"
    if role is Role.CLIENT:
        raise Forbidden(f"the client token does not allow cluster administration: it needs {needed}")
    raise Unauthorized(f"cluster administration needs {needed}: send Authorization: Bearer <admin token>")

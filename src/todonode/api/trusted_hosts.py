"""Which requests a node takes at all: the ``Host`` they name, and for writes the ``Origin`` they
come from. This is the defence against DNS rebinding and cross-site writes; CORS (cors.py) only
decides what a page may read, never what it may do.

* **Host.** A page on any web site can point a name it controls at 127.0.0.1 and have the browser
  send requests to a node on this machine as "its own" origin (DNS rebinding; etcd added a host
  allow-list after exactly this, CVE-2018-1098). The browser still sends the attacker's name in
  ``Host``, so a node answers only requests whose ``Host`` is one of its names: the hosts of the
  member URLs (``https://`` ones alike), the names in its own TLS certificate, ``localhost`` and the
  loopback addresses, and ``api.allowed_hosts``. The port is not compared: a proxy may change it, and
  the name is what an attacker cannot choose.
* **Origin.** A write (POST, PUT, PATCH, DELETE) that a browser sends carries ``Origin``. It is taken
  only from an origin in ``api.cors_origins`` or from the node's own origin (the ``Host`` it was sent
  to, already checked above), whatever CORS lets the page read. A request without ``Origin`` is not a
  browser's cross-site request, and passes.

A refused request is answered 403 with a JSON error before anything else looks at it: it changes
nothing and reads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web

from ..config import Config, host_key, is_loopback_host
from ..errors import ApiError
from ..tls import served_hosts
from .cors import origin_allowed
from .errors import Handler

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Clients send the same few ``Host`` headers again and again; parsing one as an address costs more than
# the rest of the check. A node remembers this many verdicts, and forgets them all when a client sends
# ever new ones, so what it keeps stays small.
REMEMBERED_HOSTS = 64


class HostNotAllowed(ApiError):
    status, code = 403, "host_not_allowed"


class OriginNotAllowed(ApiError):
    status, code = 403, "origin_not_allowed"


@dataclass(frozen=True, slots=True)
class HostNames:
    """The names a node answers to."""

    names: frozenset[str]
    any: bool  # api.allowed_hosts has "*"
    _verdicts: dict[str, bool] = field(default_factory=dict, compare=False)  # Host header -> allowed

    @classmethod
    def of(cls, config: Config) -> HostNames:
        members = {urlsplit(url).hostname or "" for url in config.cluster.nodes}
        names = {host_key(name) for name in members | served_hosts(config.tls)} | set(
            config.api.allowed_hosts
        )
        return cls(frozenset(name for name in names if name), "*" in config.api.allowed_hosts)

    def allow(self, host: str | None) -> bool:
        return self.any or (host is not None and (host in self.names or is_loopback_host(host)))

    def allow_header(self, header: str) -> bool:
        """Whether a request with this ``Host`` header is answered."""
        verdict = self._verdicts.get(header)
        if verdict is None:
            if len(self._verdicts) >= REMEMBERED_HOSTS:
                self._verdicts.clear()
            verdict = self._verdicts[header] = self.allow(host_of(header))
        return verdict


HOST_NAMES = web.AppKey("host_names", HostNames)


def setup(app: web.Application, config: Config) -> None:
    app[HOST_NAMES] = HostNames.of(config)


@web.middleware
async def trusted_hosts_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    host = request.headers.get("Host", "")
    if not request.app[HOST_NAMES].allow_header(host):
        raise HostNotAllowed(
            f"this node does not answer to the host {host[:100]!r}: use one of the cluster's node URLs, or "
            "add the name to api.allowed_hosts in the node's config",
        )
    origin = request.headers.get("Origin")
    if (
        origin is not None
        and request.method in UNSAFE_METHODS
        and not _origin_may_write(request, origin, host)
    ):
        raise OriginNotAllowed(
            f"writes from pages at {origin[:100]} are not allowed; add the origin to api.cors_origins in the "
            "node's config",
        )
    return await handler(request)


def host_of(header: str) -> str | None:
    """The host part of a ``Host`` header (``name``, ``name:port``, ``[v6]:port``), as hosts are
    compared; None when there is none."""
    host, _, port = header.rpartition(":") if not header.endswith("]") else (header, "", "")
    if not host or not port.isdigit():
        host = header
    return host_key(host) if host else None


def _origin_may_write(request: web.Request, origin: str, host: str) -> bool:
    if origin_allowed(request, origin):
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and parts.netloc.lower() == host.lower()

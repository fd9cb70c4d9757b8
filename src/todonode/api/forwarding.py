"""A follower passes a request on to the leader and relays the answer: one module, one set of headers,
for every route that forwards (the task writes and ``POST /cluster/transfer-leader``).

To the leader go the method, the path and query as sent, the body as sent, the headers that decide
what the request means or who may make it (``FORWARDED_REQUEST_HEADERS``), and
``X-Todonode-Forwarded-By`` naming this node — a request that carries it is never forwarded again, so
two nodes that each think the other leads cannot bounce it between them. Back to the client go the
status, the body, the headers a client acts on (``RELAYED_RESPONSE_HEADERS``), and the same
``X-Todonode-Forwarded-By``.

The forwarding client has a connection pool of its own: the transport's pool carries Raft messages,
and a forwarded write waiting for its commit must never hold up the very messages (this follower's
acknowledgements) that commit it. Over TLS it checks the leader's certificate but presents none of its
own (``tls.py``): the leader judges a relayed request by the client's credentials, never the
follower's. The one exception is administration the follower has already authorised
(``as_member``): a client certificate cannot travel with the request, so under mutual TLS the
follower vouches for it with its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
from aiohttp import web
from multidict import CIMultiDictProxy
from yarl import URL

from .. import tls
from ..errors import NotLeader
from . import headers
from .keys import CONFIG

FORWARDED_REQUEST_HEADERS = ("Content-Type", headers.IDEMPOTENCY_KEY, "If-Match", "Authorization")
RELAYED_RESPONSE_HEADERS = (
    "Content-Type",
    "ETag",
    "Retry-After",
    headers.REPLAYED,
    headers.LEADER,
    headers.NODE,
)

T = TypeVar("T")
_DIGITS = re.compile(r"[0-9]{1,18}")


class NotApplied(Exception):
    """The forwarded request certainly changed nothing (no connection, or the target no longer leads):
    always safe to retry."""


class OutcomeUnknown(Exception):
    """The forwarded request may or may not have been applied: safe to retry only with a key."""


@dataclass(frozen=True, slots=True)
class Relayed:
    """The leader's answer, as it will go back to the client."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def applied_index(self) -> int | None:
        """How far the leader had applied the log when it answered, if it said."""
        value = self.headers.get(headers.APPLIED_INDEX, "")
        return int(value) if _DIGITS.fullmatch(value) else None

    def response(self, node_id: str) -> web.Response:
        relayed = {name: self.headers[name] for name in RELAYED_RESPONSE_HEADERS if name in self.headers}
        relayed[headers.FORWARDED_BY] = node_id
        return web.Response(body=self.body, status=self.status, headers=relayed)


class Forwarder:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._member_session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "the forwarding session lives while the app runs"
        return self._session

    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        config = app[CONFIG].tls
        verify = tls.client_context(config, present_certificate=False) or True
        as_member = tls.client_context(config, present_certificate=True) if config.mutual else None
        async with contextlib.AsyncExitStack() as stack:
            self._session = await stack.enter_async_context(
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256, ssl=verify))
            )
            if as_member is not None:
                self._member_session = await stack.enter_async_context(
                    aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8, ssl=as_member))
                )
            yield
            self._session = self._member_session = None

    async def forward(
        self,
        request: web.Request,
        body: bytes,
        leader_url: str,
        node_id: str,
        timeout: aiohttp.ClientTimeout,
        *,
        as_member: bool = False,
    ) -> Relayed:
        """Send ``request`` (whose body was ``body``) to the leader at ``leader_url`` and return its
        answer. NotApplied or OutcomeUnknown when there is no answer to relay. ``as_member``: only for a
        request this node has authorised itself, which then carries this node's certificate too."""
        sent = {
            name: value
            for name in FORWARDED_REQUEST_HEADERS
            if (value := request.headers.get(name)) is not None and _sendable(value)
        }
        sent[headers.FORWARDED_BY] = node_id
        url = URL(leader_url + request.raw_path, encoded=True)
        try:
            session = (self._member_session if as_member else None) or self.session
            async with session.request(
                request.method, url, data=body or None, headers=sent, timeout=timeout
            ) as resp:
                relayed = Relayed(resp.status, resp.headers, await resp.read())
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise NotApplied(f"{leader_url}: {exc.__class__.__name__}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OutcomeUnknown(f"{leader_url}: {exc.__class__.__name__}") from exc
        if relayed.status == NotLeader.status:
            raise NotApplied(f"{leader_url} no longer leads")  # it refused without applying anything
        return relayed


def forwarded(request: web.Request) -> bool:
    """Did another node forward this request here? Then it must not be forwarded again."""
    return headers.FORWARDED_BY in request.headers


async def while_leading(
    leader_url: str, current_leader: Callable[[], str | None], poll_s: float, exchange: Awaitable[T]
) -> T:
    """``exchange``'s result, unless this node sees another leader (or none) first: a leader that was
    paused or cut off may hold a request until it times out, while its successor could take a keyed
    retry within an election timeout."""
    attempt = asyncio.ensure_future(exchange)
    try:
        while not attempt.done():
            await asyncio.wait({attempt}, timeout=poll_s)
            if not attempt.done() and current_leader() != leader_url:
                raise OutcomeUnknown(f"{leader_url} lost the leadership while the request was in flight")
        return attempt.result()
    finally:
        attempt.cancel()


def _sendable(value: str) -> bool:
    """False for header bytes that were not UTF-8 (surrogate escapes), which no client can send on."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


FORWARDER = web.AppKey("forwarder", Forwarder)

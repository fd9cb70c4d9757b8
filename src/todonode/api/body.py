"""Reading a request's JSON body: the media type, the size limit, UTF-8 and JSON, in that order.

This module owns the five body errors a client can get (415, 413, 408, and 400 ``invalid_json`` for an
empty or unreadable body) and nothing else: what the JSON must contain is checked by its type
(``models.py``).

The size limit is enforced while reading, never after: a declared ``Content-Length`` over the limit is
refused before a byte is read, and a body without one (chunked) is read only up to one byte past the
limit. A client cannot make the node buffer more than ``api.max_body_bytes``, nor take longer than
``api.body_timeout_s`` to send it: a body sent a byte at a time would hold its request open for ever.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from ..config import ApiSection
from ..errors import InvalidJson, PayloadTooLarge, RequestTimeout, UnsupportedMediaType

JSON_MEDIA_TYPE = "application/json"
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class JsonBody:
    value: Any  # the parsed JSON
    raw: bytes  # exactly what the client sent: the Idempotency-Key fingerprint and forwarding use it


async def read_json(request: web.Request, api: ApiSection) -> JsonBody:
    """The request's body parsed as JSON, or an ApiError saying what is wrong with it."""
    require_json_media_type(request)
    if request.content.is_eof():
        # The whole body came with the head, as a small one nearly always does: reading it cannot
        # wait, so it needs no timer (one per request is a measurable part of a write's CPU).
        raw = await read_capped(request, api.max_body_bytes)
    else:
        try:
            async with asyncio.timeout(api.body_timeout_s):
                raw = await read_capped(request, api.max_body_bytes)
        except TimeoutError:
            raise RequestTimeout(
                f"the body did not arrive within {api.body_timeout_s} s (api.body_timeout_s)"
            ) from None
    return JsonBody(parse_json(raw), raw)


def require_json_media_type(request: web.Request) -> None:
    """``Content-Type: application/json``, with no charset or ``charset=utf-8``: bodies are UTF-8 JSON
    (docs/api.md#conventions)."""
    if "Content-Type" not in request.headers or request.content_type != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType(
            f"send the body as JSON with the header Content-Type: {JSON_MEDIA_TYPE}",
            expected=JSON_MEDIA_TYPE,
        )
    charset = request.charset
    if charset is not None and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(
            "JSON bodies must be UTF-8: send charset=utf-8 or no charset",
            expected=JSON_MEDIA_TYPE,
        )


async def read_capped(request: web.Request, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of body; PayloadTooLarge as soon as the body is known to be longer."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    while True:
        # One byte past the limit is enough to know the body is too large.
        chunk = await request.content.read(min(_READ_CHUNK, max_bytes + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise InvalidJson('a JSON body is required, e.g. {"title": "Buy milk"}')
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(_describe(raw, exc)) from None


def _describe(raw: bytes, exc: orjson.JSONDecodeError) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        # orjson reports position 0 for bad UTF-8; the decoder knows the byte.
        return f"the body is not valid UTF-8 (byte {bad.start})"
    where = f"line {exc.lineno}, column {exc.colno}, character {exc.pos}"
    return f"the body is not valid JSON: {exc.msg} ({where})"


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body is larger than this node accepts ({max_bytes} bytes); send fewer or shorter tasks",
        max_bytes=max_bytes,
    )

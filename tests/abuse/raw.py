"""HTTP/1.1 spoken by hand, for clients that misbehave: connections from a chosen loopback address,
requests sent whole, in pieces or not at all, and many requests pipelined on one connection.

Every address is in 127.0.0.0/8, which Linux routes to the loopback interface: a hostile client gets
an address of its own (127.0.0.2, ...), as it would on a real network, so per-address limits can be
told apart from the writer measuring latency on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


async def connect(url: str, source: str = "127.0.0.1") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return await asyncio.open_connection(host, int(port), local_addr=(source, 0), limit=1 << 20)


def request(
    method: str,
    path: str,
    host: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    *,
    length: int | None = None,
) -> bytes:
    """A request as bytes; ``length`` declares a Content-Length other than the body's own."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or length is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def trickle(
    writer: asyncio.StreamWriter, data: bytes, pause_s: float, stop: asyncio.Future[Any]
) -> int:
    """Send ``data`` a byte at a time, ``pause_s`` apart, until it is all sent, ``stop`` is done or the
    connection breaks; the bytes sent."""
    for sent, byte in enumerate(data):
        if stop.done():
            return sent
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except ConnectionError:
            return sent
        await asyncio.wait([stop], timeout=pause_s)
    return len(data)


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    """One response; IncompleteReadError when the connection closes before it is whole."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return Answer(int(status_line.split()[1]), headers, body)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ConnectionError):
        await writer.wait_closed()


async def pipelined(
    url: str, raw: bytes, count: int, *, connections: int = 4, depth: int = 64
) -> dict[int, int]:
    """Send the request ``raw`` ``count`` times over ``connections`` keep-alive connections, ``depth``
    at a time on each; the statuses answered, by how many times each came back."""
    statuses: dict[int, int] = {}
    shares = [count // connections + (1 if i < count % connections else 0) for i in range(connections)]

    async def one(share: int) -> None:
        reader, writer = await connect(url)
        try:
            while share:
                burst = min(depth, share)
                writer.write(raw * burst)
                await writer.drain()
                for _ in range(burst):
                    answer = await read_answer(reader)
                    statuses[answer.status] = statuses.get(answer.status, 0) + 1
                share -= burst
        finally:
            await close(writer)

    await asyncio.gather(*(one(share) for share in shares if share))
    return statuses

"""The one HTTP+JSON client every target is driven with, and the load shapes built on it.

todonode and etcd get exactly the same code path: one aiohttp session with keep-alive connections,
bodies encoded and decoded with orjson, asyncio workers in this one process. A network error or a
timeout is a reply with status 0, never an exception, so a load loop counts it and goes on.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(slots=True)
class Reply:
    status: int  # 0: no HTTP answer (refused, reset, timed out)
    body: Any
    error: str | None = None  # why there was no answer


class HttpJson:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def request(
        self,
        method: str,
        url: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Reply:
        data = None if body is None else orjson.dumps(body)
        sent_headers = JSON_HEADERS if headers is None else {**JSON_HEADERS, **headers}
        try:
            async with self.session.request(
                method,
                url,
                data=data,
                headers=sent_headers if data is not None else headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                raw = await resp.read()
                try:
                    parsed = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    parsed = raw[:200].decode(errors="replace")
                return Reply(resp.status, parsed)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return Reply(0, None, f"{exc.__class__.__name__}: {exc}"[:200])


def new_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512, limit_per_host=0))


@dataclass(slots=True)
class Outcome:
    """One write as a client saw it."""

    ok: bool
    key: str | None = None  # what to read it back by
    error: str | None = None  # a short kind, e.g. "503 no_leader" or "0 ClientConnectorError"


def error_kind(reply: Reply) -> str:
    if reply.status == 0:
        return f"0 {(reply.error or '').split(':')[0]}"
    body = reply.body
    if isinstance(body, dict) and "error" in body:
        return f"{reply.status} {str(body['error'])[:80]}"
    return str(reply.status)


# ----------------------------------------------------------------------------------------- statistics


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(len(ordered) * p / 100))
    return ordered[rank - 1]


# ----------------------------------------------------------------------------------------- load shapes


@dataclass
class LoadResult:
    acked: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.acked / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_ms
        return {
            "acked": self.acked,
            "seconds": round(self.seconds, 3),
            "writes_per_s": round(self.rate, 1),
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "latency_ms": {
                "p50": percentile(lat, 50),
                "p90": percentile(lat, 90),
                "p99": percentile(lat, 99),
                "max": max(lat) if lat else math.nan,
            },
        }


async def closed_loop(
    write: Callable[[int], Awaitable[Outcome]],
    total: int | None,
    concurrency: int,
    on_progress: Callable[[int, int], None] | None = None,
    seq: itertools.count[int] | None = None,
    seconds: float | None = None,
) -> LoadResult:
    """``total`` writes (or as many as fit in ``seconds``) from ``concurrency`` workers, each sending its
    next write as soon as the last one is answered. ``write(n)`` performs write number n, where n comes
    from ``seq`` (unique across the run)."""
    numbers = seq if seq is not None else itertools.count()
    remaining = iter(range(total)) if total is not None else itertools.count()
    deadline = time.perf_counter() + seconds if seconds is not None else math.inf
    latencies: list[float] = []
    kinds: dict[str, int] = {}
    done = 0

    async def worker() -> None:
        nonlocal done
        for _ in remaining:
            if time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            outcome = await write(next(numbers))
            if outcome.ok:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                kind = outcome.error or "?"
                kinds[kind] = kinds.get(kind, 0) + 1
            done += 1

    async def reporter() -> None:
        while on_progress is not None:
            await asyncio.sleep(0.25)
            on_progress(done, total if total is not None else done)

    ticker = asyncio.create_task(reporter())
    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        ticker.cancel()
    elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), elapsed, latencies, sum(kinds.values()), kinds)

"""wrk's rows of the benchmark (bench/load_generator.py, bench/wrk/): its report is read right, and
each Lua script sends exactly the requests its target's API expects."""

from __future__ import annotations

import base64
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from bench.client import HttpJson, new_session
from bench.etcd_target import EtcdTarget
from bench.load_generator import parse, run_wrk
from bench.todonode_target import TodonodeTarget

from tests.needs import WRK

REPORT = """Running 5s test @ http://127.0.0.1:4000/tasks
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.12ms    4.01ms  61.20ms   80.00%
    Req/Sec     3.51k   250.00     3.90k    70.00%
  Latency Distribution
     50%    8.47ms
     75%   10.20ms
     90%   13.00ms
     99%    1.02s
  17500 requests in 5.00s, 5.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   3500.00
Transfer/sec:      1.02MB
"""


def test_a_report_gives_the_rate_of_answers_without_error_and_the_percentiles() -> None:
    result = parse(REPORT)
    assert result.requests == 17_500 and result.errors == 10
    assert result.rate == pytest.approx((17_500 - 10) / 5.0)
    assert result.p50_ms == pytest.approx(8.47) and result.p99_ms == pytest.approx(1020.0)


def test_a_report_in_microseconds_and_without_errors() -> None:
    report = REPORT.replace("8.47ms", "612.00us").replace(
        "  Socket errors: connect 0, read 2, write 0, timeout 1\n", ""
    )
    result = parse(report.replace("  Non-2xx or 3xx responses: 7\n", ""))
    assert result.errors == 0 and result.p50_ms == pytest.approx(0.612)


def test_what_is_not_a_report_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not a wrk report"):
        parse("unable to connect to 127.0.0.1:4000 Connection refused")
    assert math.isnan(parse(REPORT.replace("99%", "98%")).p99_ms)


@asynccontextmanager
async def recording_server(seen: list[tuple[str, str, bytes]]) -> AsyncIterator[str]:
    """A loopback server that answers every request 200 and keeps (method, path, body) in ``seen``."""

    async def record(request: web.Request) -> web.Response:
        seen.append((request.method, request.path_qs, await request.read()))
        return web.Response(text="{}", content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    async with TestServer(app, host="127.0.0.1") as server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.mark.needs(WRK)
async def test_the_todonode_script_creates_tasks_and_reads_one_nine_times_in_ten(tmp_path: Path) -> None:
    seen: list[tuple[str, str, bytes]] = []
    async with recording_server(seen) as url, new_session() as session:
        target = TodonodeTarget(tmp_path, HttpJson(session))
        script, args = target.wrk_request("mix", "abc", local=False)
        result = await run_wrk(url, script, args, connections=1, seconds=1)
    assert result.requests > 20 and result.errors == 0
    writes = [body for method, path, body in seen if method == "POST" and path == "/tasks"]
    reads = [path for method, path, _ in seen if method == "GET"]
    assert set(reads) == {"/tasks/abc?consistency=strong"}
    assert all(orjson.loads(body)["title"].startswith("wrk ") for body in writes)
    assert len(writes) + len(reads) == len(seen) and len(reads) >= 8 * len(writes)


@pytest.mark.needs(WRK)
async def test_the_etcd_script_puts_new_base64_keys_and_reads_one_serializably(tmp_path: Path) -> None:
    seen: list[tuple[str, str, bytes]] = []
    async with recording_server(seen) as url, new_session() as session:
        target = EtcdTarget(tmp_path, HttpJson(session), "etcd")
        key = base64.b64encode(b"some/key").decode()
        script, args = target.wrk_request("mix", key, local=True)
        await run_wrk(url, script, args, connections=1, seconds=1)
    puts = [orjson.loads(body) for method, path, body in seen if path == "/v3/kv/put"]
    ranges = [orjson.loads(body) for method, path, body in seen if path == "/v3/kv/range"]
    assert puts and ranges and len(puts) + len(ranges) == len(seen)
    assert all(r == {"key": key, "serializable": True} for r in ranges)
    put_keys = [base64.b64decode(p["key"], validate=True).decode() for p in puts]
    assert len(set(put_keys)) == len(put_keys)
    assert all(k.startswith(f"wrk/{target.token}/") for k in put_keys)
    assert orjson.loads(base64.b64decode(puts[0]["value"]))["title"].startswith("bench")

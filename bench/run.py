"""Measure todonode on this machine: ``python -m bench.run [--quick] [--only NAME ...]``.

Starts real clusters (fsync on, the shipped default timings) on free loopback ports in temporary
directories, drives them with an HTTP+JSON client in this process, prints one line per figure and
writes them all to bench/results/latest.json. Every process it starts is killed by PID at the end.
Figures are as measured on whatever else the machine is doing: run it on a quiet machine, more than
once, and compare medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.harness import Client, ProcessCluster, find_leader, wait_for

DEFAULTS = {"tick_ms": 10, "heartbeat_ms": 100, "election_timeout_ms": 500, "leader_settle_ms": 3000,
            "write_wait_ms": 3000}
RESULTS = Path(__file__).parent / "results"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def report(results: dict[str, Any], name: str, value: Any, unit: str = "") -> None:
    results[name] = value
    shown = f"{value:,.1f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
    print(f"  {name:<48} {shown} {unit}", flush=True)


async def write_load(client: Client, url: str, total: int, concurrency: int) -> tuple[float, list[float], int]:
    """``total`` creates from ``concurrency`` clients: (writes/s, latencies in ms, errors)."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))

    async def worker() -> None:
        nonlocal errors
        for i in counter:
            started = time.perf_counter()
            code, _, _ = await client.call("POST", url + "/tasks", {"title": f"bench {i}"}, timeout=30)
            if code == 201:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies, errors


async def term_of(client: Client, cluster: ProcessCluster) -> int:
    statuses = [await client.status(n) for n in cluster.nodes if n.running]
    return max(s["term"] for s in statuses if s)


# ------------------------------------------------------------------------------------------ cluster


async def bench_throughput(client, cluster, results, quick):
    leader = await find_leader(client, cluster)
    for concurrency, total in ((1, 300 if quick else 2000), (8, 800 if quick else 20000),
                               (32, 1600 if quick else 20000)):
        rate, lat, errors = await write_load(client, leader.url, total, concurrency)
        report(results, f"cluster writes/s at concurrency {concurrency}", rate, "writes/s")
        report(results, f"cluster write latency p50/p99 at c={concurrency}",
               f"{pct(lat, 50):.1f} / {pct(lat, 99):.1f}", "ms")
        report(results, f"cluster errors at concurrency {concurrency}", errors)


async def follow_events(session: aiohttp.ClientSession, url: str, seen: dict[str, float]) -> None:
    async with session.get(url + "/events", timeout=aiohttp.ClientTimeout(total=None)) as resp:
        event = None
        async for raw in resp.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "task":
                data = json.loads(line[6:])
                seen.setdefault(f"{url} {data['id']}", time.perf_counter())


async def bench_visibility(client, cluster, results, quick):
    leader = await find_leader(client, cluster)
    followers = [n for n in cluster.nodes if n is not leader and n.running]
    seen: dict[str, float] = {}
    watchers = [asyncio.create_task(follow_events(client.session, f.url, seen)) for f in followers]
    await asyncio.sleep(0.5)
    delays = []
    for i in range(50 if quick else 200):
        code, body, _ = await client.call("POST", leader.url + "/tasks", {"title": f"visible {i}"})
        acked = time.perf_counter()
        keys = [f"{f.url} {body['id']}" for f in followers]
        await wait_for(lambda: asyncio.sleep(0, all(k in seen for k in keys)), 5, "the write on all followers",
                       interval=0.0005)
        delays.append(max(0.0, max(seen[k] for k in keys) - acked) * 1000)
    for w in watchers:
        w.cancel()
    report(results, "visible on all followers after ack p50/p99",
           f"{pct(delays, 50):.2f} / {pct(delays, 99):.2f}", "ms")


async def bench_failover(client, cluster, results, quick):
    kills = 3 if quick else 10
    windows, errors_seen = [], 0
    for _ in range(kills):
        leader = await find_leader(client, cluster)
        survivors = [n for n in cluster.nodes if n is not leader]
        stop = asyncio.Event()
        ok_times: list[float] = []
        errors: list[Any] = []

        async def writer(node):
            while not stop.is_set():
                code, body, _ = await client.call("POST", node.url + "/tasks", {"title": "failover"},
                                                  headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=10)
                (ok_times.append(time.perf_counter()) if code == 201 else errors.append((code, body)))

        tasks = [asyncio.create_task(writer(n)) for n in survivors for _ in range(2)]
        await asyncio.sleep(1.0)
        killed = time.perf_counter()
        cluster.kill(leader.index)
        await wait_for(lambda: asyncio.sleep(0, any(t > killed + 0.001 for t in ok_times)
                                             and len([t for t in ok_times if t > killed]) > 5), 15,
                       "writes after the kill")
        stop.set()
        await asyncio.gather(*tasks)
        # The window: from the kill until writes flow again (the first write acknowledged after it).
        windows.append(min(t for t in ok_times if t > killed) - killed)
        errors_seen += len(errors)
        cluster.start(leader.index)
        await wait_for(lambda: _all_ready(client, cluster), 20, "the cluster to heal")
    report(results, "failover window after kill -9 median/max",
           f"{statistics.median(windows):.2f} / {max(windows):.2f}", "s")
    report(results, "failover: errors seen by clients of survivors", errors_seen)
    results["failover_windows_s"] = windows


async def _all_ready(client, cluster):
    for n in cluster.nodes:
        code, _, _ = await client.call("GET", n.url + "/ready", timeout=1)
        if code != 200:
            return False
    return True


async def bench_catch_up(client, cluster, results, quick):
    leader = await find_leader(client, cluster)
    lagging = next(n for n in cluster.nodes if n is not leader)
    cluster.kill(lagging.index)
    missed = 1000 if quick else 10000
    await write_load(client, leader.url, missed, 32)
    target = (await client.status(leader))["commit_index"]
    started = time.perf_counter()
    cluster.start(lagging.index)

    async def caught_up():
        s = await client.status(lagging)
        return s and s["applied_index"] >= target

    await wait_for(caught_up, 60, "the restarted node to catch up", interval=0.01)
    report(results, f"catch-up of a node that missed {missed:,} writes", time.perf_counter() - started,
           "s (from process start)")


async def bench_no_spurious_elections(client, cluster, results, quick):
    leader = await find_leader(client, cluster)
    before = await term_of(client, cluster)
    seconds = 10 if quick else 60
    deadline = time.monotonic() + seconds

    async def worker():
        while time.monotonic() < deadline:
            await client.call("POST", leader.url + "/tasks", {"title": "steady"}, timeout=10)

    await asyncio.gather(*(worker() for _ in range(32)))
    report(results, f"elections during {seconds} s of full load", await term_of(client, cluster) - before)


# -------------------------------------------------------------------------------------------- single


async def bench_single(client, root, results, quick):
    cluster = ProcessCluster(root / "single", 1, timings=DEFAULTS)
    cluster.start_all()
    try:
        node = await find_leader(client, cluster)
        for concurrency, total in ((1, 300 if quick else 2000), (32, 1600 if quick else 10000)):
            rate, lat, _ = await write_load(client, node.url, total, concurrency)
            report(results, f"single node writes/s at concurrency {concurrency}", rate, "writes/s")
            report(results, f"single node latency p50/p99 at c={concurrency}",
                   f"{pct(lat, 50):.1f} / {pct(lat, 99):.1f}", "ms")
        empty_rate, _, _ = await write_load(client, node.url, 500 if quick else 3000, 8)
        target = 10_000 if quick else 100_000
        for _ in range(target // 1000):
            batch = {"tasks": [{"title": f"filler {i}"} for i in range(1000)]}
            code, _, _ = await client.call("POST", node.url + "/tasks/batch", batch, timeout=60)
            assert code == 201
        full_rate, _, _ = await write_load(client, node.url, 500 if quick else 3000, 8)
        report(results, f"writes/s at {target:,} tasks vs empty (c=8)", full_rate / empty_rate, "x")
        rss = _rss_mb(cluster.nodes[0].proc.pid)
        report(results, f"RSS of a node holding {target:,} tasks", rss, "MB")
        lat = []
        for _ in range(200):
            started = time.perf_counter()
            await client.call("GET", node.url + "/tasks?limit=100")
            lat.append((time.perf_counter() - started) * 1000)
        report(results, f"GET /tasks?limit=100 at {target:,} tasks p99", pct(lat, 99), "ms")
        cluster.kill(0)
        started = time.perf_counter()
        cluster.start(0)
        await wait_for(lambda: _all_ready(client, cluster), 60, "the restart", interval=0.01)
        report(results, f"restart with {target:,} tasks until ready", time.perf_counter() - started, "s")
    finally:
        cluster.close()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


CLUSTER_BENCHES = {
    "throughput": bench_throughput,
    "visibility": bench_visibility,
    "elections": bench_no_spurious_elections,
    "catchup": bench_catch_up,
    "failover": bench_failover,
}


async def main(quick: bool, only: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()}, {platform.python_version()}",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": quick,
    }
    with tempfile.TemporaryDirectory(prefix="todonode-bench-") as tmp:
        root = Path(tmp)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
            client = Client(session, timeout=30)
            if not only or "single" in only:
                print("single node", flush=True)
                await bench_single(client, root, results, quick)
            chosen = [name for name in CLUSTER_BENCHES if not only or name in only]
            if chosen:
                print("four-node cluster", flush=True)
                cluster = ProcessCluster(root / "cluster", 4, timings=DEFAULTS)
                cluster.start_all()
                try:
                    for name in chosen:
                        await CLUSTER_BENCHES[name](client, cluster, results, quick)
                finally:
                    cluster.close()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the benchmark runs")
    parser.add_argument("--only", nargs="*", default=[], help=f"single, {', '.join(CLUSTER_BENCHES)}")
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.only))
    sys.exit(0)

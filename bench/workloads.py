"""The workloads. Each one takes a running target and fills in figures (see figures.py) and extras
(the details behind them, kept in the JSON).

The ones that make sense for any replicated key-value store (throughput and latency, visibility on
followers, failover) use only the ``Target`` interface and run on todonode and etcd alike; the rest
use todonode's own API.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from . import load_generator
from .client import closed_loop, percentile
from .figures import Profile
from .progress import Progress
from .targets import Target, wait_for
from .todonode_target import TodonodeTarget

FAILOVER_REQUEST_TIMEOUT_S = 10.0
PROBE_INTERVAL_S = 0.01  # failover: a fresh write every 10 ms besides the steady load
TIMELINE_BUCKET_S = 0.05
TIMELINE_FROM_S, TIMELINE_TO_S = -1.0, 2.5


@dataclass
class Context:
    target: Target
    profile: Profile
    progress: Progress
    seq: itertools.count[int] = field(default_factory=itertools.count)
    figures: dict[str, float] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def stage(self, text: str) -> None:
        self.progress.stage(f"{self.target.name}: {text}")


# ------------------------------------------------------------------------------------------ any target


async def throughput(ctx: Context) -> None:
    """Acknowledged writes/s and latency at each concurrency, all sent to the leader."""
    t = ctx.target
    leader = await t.leader()
    errors = 0
    details: dict[str, Any] = {}
    for concurrency, total in ctx.profile.writes.items():
        ctx.stage(f"writes at concurrency {concurrency}")

        def put(n: int, member: int = leader) -> Any:
            return t.put(member, n)

        await closed_loop(put, ctx.profile.warmup, concurrency, seq=ctx.seq)
        result = await closed_loop(put, total, concurrency, ctx.progress.count, ctx.seq)
        ctx.figures[f"writes_c{concurrency}"] = result.rate
        ctx.figures[f"p50_c{concurrency}"] = percentile(result.latencies_ms, 50)
        ctx.figures[f"p99_c{concurrency}"] = percentile(result.latencies_ms, 99)
        errors += result.errors
        details[str(concurrency)] = result.summary()
    ctx.figures["write_errors"] = errors
    ctx.extras["throughput"] = details


# (figure, mode, on a follower, connections, local reads): the loads wrk puts on each target.
WRK_LOADS = (
    ("wrk_writes_c1", "write", False, 1, False),
    ("wrk_writes_c32", "write", False, 32, False),
    ("wrk_reads_leader", "read", False, 32, False),
    ("wrk_reads_follower", "read", True, 32, False),
    ("wrk_reads_local", "read", True, 32, True),
    ("wrk_mix", "mix", False, 32, False),
)


async def wrk_loads(ctx: Context) -> None:
    """The loads of WRK_LOADS from wrk (bench/load_generator.py), one after another, each for
    ``wrk_seconds``: writes at c=1 and c=32 and a 90/10 read/write mix on the leader; reads of one
    key, linearizable on the leader and on a follower, and local on a follower."""
    t = ctx.target
    if not load_generator.available():
        ctx.progress.note(f"{t.name}: no wrk, its rows are left out ({load_generator.INSTALL_HINT})")
        return
    leader = await t.leader()
    follower = next(i for i in t.running() if i != leader)
    written = await t.put(leader, next(ctx.seq), timeout=10)
    if not written.ok or written.key is None:
        raise RuntimeError(f"the write to read back failed: {written.error}")
    key = written.key

    async def on_follower() -> bool:
        return await t.visible(follower, key)

    await wait_for(on_follower, 10, f"the write to read back on {t.members[follower].name}", 0.01)
    errors = 0
    details: dict[str, Any] = {}
    for figure, mode, at_follower, connections, local in WRK_LOADS:
        member = follower if at_follower else leader
        ctx.stage(f"wrk: {figure} on {t.members[member].name}")
        script, args = t.wrk_request(mode, key, local)
        result = await load_generator.run_wrk(
            t.members[member].url, script, args, connections, ctx.profile.wrk_seconds
        )
        ctx.figures[figure] = result.rate
        if figure == "wrk_writes_c1":
            ctx.figures["wrk_p50_c1"] = result.p50_ms
        errors += result.errors
        details[figure] = {"connections": connections, "p50_ms": result.p50_ms, "p99_ms": result.p99_ms,
                           "requests": result.requests, "errors": result.errors}  # fmt: skip
    ctx.figures["wrk_errors"] = errors
    ctx.extras["wrk"] = details


async def visibility(ctx: Context) -> None:
    """One write at a time to the leader; after its ack, every follower is polled back to back (a read
    of its own state) until it serves the write. The sample is the slowest follower's time."""
    t = ctx.target
    ctx.stage("visible on all followers")
    leader = await t.leader()
    followers = [i for i in t.running() if i != leader]
    delays: list[float] = []
    failed = 0

    async def seen(member: int, key: str, acked: float) -> float:
        while time.perf_counter() - acked < 5:
            if await t.visible(member, key):
                return time.perf_counter()
        return math.nan

    for sample in range(ctx.profile.visibility_samples):
        outcome = await t.put(leader, next(ctx.seq), timeout=10)
        acked = time.perf_counter()
        if not outcome.ok or outcome.key is None:
            failed += 1
            continue
        times = await asyncio.gather(*(seen(f, outcome.key, acked) for f in followers))
        if any(math.isnan(x) for x in times):
            failed += 1
        else:
            delays.append((max(times) - acked) * 1000)
        ctx.progress.count(sample + 1, ctx.profile.visibility_samples, "samples")
    ctx.figures["visible_p50"] = percentile(delays, 50)
    ctx.figures["visible_p99"] = percentile(delays, 99)
    ctx.extras["visibility"] = {
        "samples": len(delays),
        "failed": failed,
        "max_ms": max(delays) if delays else math.nan,
        "method": "after the ack, poll every follower back to back with a local read; the time of the "
        "slowest follower's first answer that has the write",
    }


async def failover(ctx: Context) -> None:
    """kill -9 of the leader under steady load on the other members; each kill's window runs from the
    kill to the first acknowledgement of a write sent after it. The load: two closed-loop clients per
    surviving member, plus a fresh write every 10 ms (so a client stuck on a request lost with the
    leader does not hide the moment writes flow again). Every failed request is an error."""
    t = ctx.target
    windows: list[float] = []
    kills: list[dict[str, Any]] = []
    errors = 0
    kinds: dict[str, int] = {}
    attempts = 0
    while len(windows) < ctx.profile.kills:
        attempts += 1
        if attempts > ctx.profile.kills + 3:
            raise RuntimeError("leadership kept moving before the kill; gave up")
        ctx.stage(f"failover {len(windows) + 1}/{ctx.profile.kills}")
        ctx.progress.detail("waiting for the cluster to settle")
        await t.wait_settled()
        kill = await _one_failover(ctx)
        if kill is None:
            continue
        windows.append(kill["window_s"])
        errors += kill["errors"]
        for kind, count in kill["error_kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + count
        kills.append(kill)
    ctx.figures["failover_median"] = statistics.median(windows)
    ctx.figures["failover_max"] = max(windows)
    ctx.figures["failover_errors"] = errors
    typical = sorted(kills, key=lambda k: k["window_s"])[(len(kills) - 1) // 2]
    ctx.extras["failover"] = {
        "windows_s": windows,
        "error_kinds": kinds,
        "kills": [{k: v for k, v in kill.items() if k != "timeline"} for kill in kills],
        "timeline": typical["timeline"],
        "request_timeout_s": FAILOVER_REQUEST_TIMEOUT_S,
        "discarded_attempts": attempts - len(kills),  # leadership moved before the kill: not measured
    }


async def _one_failover(ctx: Context) -> dict[str, Any] | None:
    t = ctx.target
    leader = await t.leader()
    survivors = [i for i in t.running() if i != leader]
    records: list[tuple[float, float, bool]] = []  # (sent, answered, ok)
    kinds: dict[str, int] = {}
    stop = asyncio.Event()

    async def one(member: int) -> None:
        sent = time.perf_counter()
        outcome = await t.put(member, next(ctx.seq), keyed=True, timeout=FAILOVER_REQUEST_TIMEOUT_S)
        records.append((sent, time.perf_counter(), outcome.ok))
        if not outcome.ok:
            kinds[outcome.error or "?"] = kinds.get(outcome.error or "?", 0) + 1

    async def steady(member: int) -> None:
        while not stop.is_set():
            await one(member)

    async def probe() -> None:
        pending: set[asyncio.Task[None]] = set()
        for n in itertools.count():
            if stop.is_set():
                break
            task = asyncio.create_task(one(survivors[n % len(survivors)]))
            pending.add(task)
            task.add_done_callback(pending.discard)
            await asyncio.sleep(PROBE_INTERVAL_S)
        await asyncio.gather(*pending)

    load = [asyncio.create_task(steady(m)) for m in survivors for _ in range(2)]
    load.append(asyncio.create_task(probe()))
    killed_at = math.inf
    try:
        await asyncio.sleep(ctx.profile.before_kill_s)
        if await t.leader() != leader:
            ctx.progress.note(f"{t.name}: leadership moved during the load before a kill; trying again")
            return None
        killed_at = time.perf_counter()
        t.kill(leader)
        ctx.progress.detail(f"killed {t.members[leader].name}; waiting for writes to flow again")

        async def flowing() -> bool:
            return any(ok and sent > killed_at for sent, _, ok in records)

        await wait_for(flowing, 30, f"{t.name} to accept writes after the leader was killed", 0.005)
        since_kill = time.perf_counter() - killed_at
        await asyncio.sleep(max(ctx.profile.after_recovery_s, ctx.profile.failover_watch_s - since_kill))
    finally:
        stop.set()
        ctx.progress.detail("waiting for the requests in flight to end")
        await asyncio.gather(*load)
    window = min(done for sent, done, ok in records if ok and sent > killed_at) - killed_at
    ctx.progress.detail(f"window {window:.2f} s; restarting {t.members[leader].name}")
    t.spawn(leader)
    return {
        "killed": t.members[leader].name,
        "window_s": window,
        "requests": len(records),
        "errors": sum(1 for *_, ok in records if not ok),
        "error_kinds": kinds,
        "timeline": _timeline(records, killed_at, window),
    }


def _timeline(records: list[tuple[float, float, bool]], killed_at: float, window: float) -> dict[str, Any]:
    """Acknowledged and failed requests per 50 ms around the kill, by the time they were answered."""
    buckets = round((TIMELINE_TO_S - TIMELINE_FROM_S) / TIMELINE_BUCKET_S)
    acks, errors = [0] * buckets, [0] * buckets
    for _, done, ok in records:
        slot = math.floor((done - killed_at - TIMELINE_FROM_S) / TIMELINE_BUCKET_S)
        if 0 <= slot < buckets:
            (acks if ok else errors)[slot] += 1
    late = sum(1 for _, done, ok in records if not ok and done - killed_at >= TIMELINE_TO_S)
    return {
        "from_s": TIMELINE_FROM_S,
        "bucket_s": TIMELINE_BUCKET_S,
        "acks": acks,
        "errors": errors,
        "errors_after": late,
        "window_s": window,
    }


# ------------------------------------------------------------------------------------------ todonode


async def elections(ctx: Context) -> None:
    """Full load (32 clients on the leader) for a while with no faults; every term change is an
    election (a planned hand-over counts too)."""
    t = ctx.target
    assert isinstance(t, TodonodeTarget)
    ctx.stage(f"{ctx.profile.election_watch_s:g} s of full load, counting elections")
    await t.wait_settled()
    leader = await t.leader()
    before = await t.term()
    started = time.monotonic()

    def put(n: int) -> Any:
        return t.put(leader, n)

    def show(done: int, _total: int) -> None:
        left = ctx.profile.election_watch_s - (time.monotonic() - started)
        ctx.progress.detail(f"{done:,} writes, {max(0.0, left):.0f} s left")

    result = await closed_loop(put, None, 32, show, ctx.seq, seconds=ctx.profile.election_watch_s)
    after = await t.term()
    ctx.figures["elections"] = after - before
    ctx.figures["load_errors"] = result.errors
    ctx.extras["elections"] = {"term_before": before, "term_after": after, "load": result.summary()}


CATCHUP_WATCH_S = 5.0  # elections are still counted this long after a node caught up


async def catch_up(ctx: Context) -> None:
    """A follower is killed, the leader takes ``missed_writes`` writes, the follower is started again;
    the figure runs from its start until it has applied everything the leader had committed."""
    t = ctx.target
    assert isinstance(t, TodonodeTarget)
    ctx.stage(f"catch-up after {ctx.profile.missed_writes:,} missed writes")
    await t.wait_settled()
    leader = await t.leader()
    preferred = min(t.running())
    lagging = max(i for i in t.running() if i not in (leader, preferred))
    t.kill(lagging)

    def put(n: int) -> Any:
        return t.put(leader, n)

    load = await closed_loop(put, ctx.profile.missed_writes, 32, ctx.progress.count, ctx.seq)
    status = await t.status(leader)
    assert status is not None, "the leader stopped answering"
    goal = status["commit_index"]
    ctx.progress.detail(f"restarting {t.members[lagging].name}")
    term_before = await t.term()  # elections while the leader took the writes alone are not the catch-up's
    started = time.perf_counter()
    t.spawn(lagging)
    first_answer: list[float] = []

    async def caught_up() -> bool:
        s = await t.status(lagging)
        if s is not None and not first_answer:
            first_answer.append(time.perf_counter() - started)
        return s is not None and s["applied_index"] >= goal

    await wait_for(caught_up, 120, "the restarted node to catch up", interval=0.01)
    ctx.figures["catchup_s"] = time.perf_counter() - started
    # An election the catch-up caused may start just after it: the node's first turns with the new state.
    await asyncio.sleep(CATCHUP_WATCH_S)
    ctx.figures["catchup_elections"] = await t.term() - term_before
    # What the node was sent, as its log says (node/facade.py): 0 when it caught up from the log alone.
    received = re.findall(
        r"received a snapshot at index \d+ from \S+: (\d+) bytes", t.members[lagging].log.read_text()
    )
    ctx.figures["catchup_snapshot_mb"] = int(received[-1]) / 1e6 if received else 0.0
    ctx.extras["catch_up"] = {
        "node": t.members[lagging].name,
        "missed_acked": load.acked,
        "goal_index": goal,
        "first_answer_s": first_answer[0] if first_answer else None,
    }


async def scale(ctx: Context) -> None:
    """On a fresh cluster: writes/s at c=8 when empty; fill to ``scale_tasks`` tasks (batches of 1000);
    writes/s at c=8 again; RSS of every node; GET /tasks?limit=100 on every node; kill -9 and restart
    of a follower until it is ready."""
    t = ctx.target
    assert isinstance(t, TodonodeTarget)
    p = ctx.profile
    await t.wait_settled()
    leader = await t.leader()

    def put(n: int) -> Any:
        return t.put(leader, n)

    ctx.stage("writes/s at c=8, empty")
    await closed_loop(put, p.warmup, 8, seq=ctx.seq)
    empty = await closed_loop(put, p.scale_writes, 8, ctx.progress.count, ctx.seq)

    ctx.stage(f"filling to {p.scale_tasks:,} tasks")
    term_before = await t.term()
    filled = 0
    while filled < p.scale_tasks:
        count = min(1000, p.scale_tasks - filled)
        await t.batch(leader, filled, count)
        filled += count
        ctx.progress.count(filled, p.scale_tasks, "tasks")

    ctx.stage(f"writes/s at c=8, {p.scale_tasks:,} tasks")
    await closed_loop(put, p.warmup, 8, seq=ctx.seq)
    full = await closed_loop(put, p.scale_writes, 8, ctx.progress.count, ctx.seq)
    ctx.figures["scale_ratio"] = full.rate / empty.rate if empty.rate else math.nan
    ctx.figures["scale_elections"] = await t.term() - term_before
    ctx.figures["snapshot_mb"] = t.snapshot_mb()

    ctx.stage("RSS and GET /tasks?limit=100")
    status = await t.status(leader)
    assert status is not None, "the leader stopped answering"
    goal = status["commit_index"]

    async def everyone_applied() -> bool:
        statuses = await asyncio.gather(*(t.status(i) for i in t.running()))
        return all(s is not None and s["applied_index"] >= goal for s in statuses)

    await wait_for(everyone_applied, 60, "every node to apply the filled state")
    rss = {t.members[i].name: round(t.rss_mb(i), 1) for i in t.running()}
    ctx.figures["rss_mb"] = max(rss.values())

    latencies: list[float] = []
    bad = 0
    running = t.running()
    for k in range(p.list_requests):
        member = t.members[running[k % len(running)]]
        started = time.perf_counter()
        reply = await t.http.request("GET", member.url + "/tasks?limit=100", timeout=10)
        elapsed = (time.perf_counter() - started) * 1000
        page = reply.body.get("tasks") if isinstance(reply.body, dict) else None
        if reply.status == 200 and page is not None and len(page) == 100:
            latencies.append(elapsed)
        else:
            bad += 1
    ctx.figures["list_p99_ms"] = percentile(latencies, 99)

    ctx.stage(f"restart with {p.scale_tasks:,} tasks")
    preferred = min(t.running())
    victim = max(i for i in t.running() if i not in (leader, preferred))
    t.kill(victim)
    started = time.perf_counter()
    t.spawn(victim)

    async def ready() -> bool:
        return await t.ready(victim)

    await wait_for(ready, 120, "the restarted node to be ready", interval=0.01)
    ctx.figures["restart_s"] = time.perf_counter() - started
    ctx.extras["scale"] = {
        "empty": empty.summary(),
        "full": full.summary(),
        "rss_mb": rss,
        "list": {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99), "failed": bad},
        "restarted": t.members[victim].name,
    }

"""The hostile-client suite: each attack in turn against the leader of one cluster, while a writer
times its writes, before the attack and during it; then the elections it cost (target: none) and the
attacked node's memory before and after. ``make abuse`` runs the full profile and prints the table;
``test_abuse.py`` runs the short one inside ``make test``."""

from __future__ import annotations

import asyncio
import os
import re
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.harness import Client, ProcessCluster

from .attacks import ATTACKS, Outcome, Profile
from .scene import TIMINGS, Latencies, Scene, Writer

# The shipped timings and limits: the figures make abuse reports are those of a default cluster.
FULL = Profile("full", before_s=10, during_s=40, tasks=100_000, timings=TIMINGS)
# Short enough for make test: shorter request deadlines, so that slow clients are cut off within it,
# and a longer election timeout, because make test runs everything else on the machine meanwhile.
SHORT = Profile(
    "short",
    before_s=2,
    during_s=5,
    tasks=10_000,
    slow_clients=50,
    api={"header_timeout_s": 2, "body_timeout_s": 2, "keepalive_timeout_s": 5},
    timings={**TIMINGS, "election_timeout_ms": 1000},
)
SETTLE_S = 15  # after an attack, for the node to let its connections go before RSS is read


@dataclass
class Result:
    attack: str
    before: dict[str, Any]
    during: dict[str, Any]
    elections: int
    rss_before_mb: float
    rss_after_mb: float
    loop_blocked: list[str]  # what the attacked node logged about its event loop meanwhile
    stats: dict[str, Any]
    problems: list[str]

    def row(self) -> dict[str, Any]:
        return self.__dict__


SIZE = 3  # nodes


def cluster_options(profile: Profile) -> dict[str, Any]:
    """How the suite's ProcessCluster is made. The writer and the attackers send to the leader: no
    hand-over to the lowest port in between."""
    return {
        "timings": {**profile.timings, "prefer_lowest_port": "false"},
        "api": dict(profile.api),
        "log_level": "info",
    }


async def run_suite(
    cluster: ProcessCluster, client: Client, profile: Profile, only: list[str] | None = None
) -> list[Result]:
    allow_many_open_files()
    scene = await Scene.start(cluster, client)
    await fill(scene, profile.tasks)
    writer = Writer(scene.target.url)
    return [
        await measure(scene, writer, profile, name, attack)
        for name, attack in ATTACKS.items()
        if not only or name in only
    ]


async def measure(scene: Scene, writer: Writer, profile: Profile, name: str, attack: Any) -> Result:
    # Each attack goes to the leader of the moment: one that cost an election must not make every
    # later one be measured against a follower.
    scene.target = await scene.leader()
    writer.url = scene.target.url
    rss_before = scene.rss()
    term_before = await scene.term()
    log_before = scene.target.log.stat().st_size
    before = await writer.run(profile.before_s)
    stop = asyncio.Event()
    attacking = asyncio.ensure_future(attack(scene, profile, stop))
    during: Latencies = await writer.run(profile.during_s)
    stop.set()
    outcome: Outcome = await attacking
    await settle(scene)
    elections = await scene.term() - term_before
    problems = list(outcome.problems)
    if before.failures or during.failures:
        problems.append(f"writes failed: {(before.failures + during.failures)[:5]}")
    if elections:
        problems.append(f"{elections} election(s)")
    if (await scene.leader()) is not scene.target:
        problems.append("the leader changed")
    return Result(
        name,
        before.summary(),
        during.summary(),
        elections,
        rss_before / 2**20,
        scene.rss() / 2**20,
        blocked_since(scene, log_before),
        outcome.stats,
        problems,
    )


def blocked_since(scene: Scene, offset: int) -> list[str]:
    """The node's "event loop blocked for N ms" lines logged after ``offset``."""
    with scene.target.log.open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    return [
        line.split("todonode.node: ", 1)[-1] for line in text.splitlines() if "event loop blocked" in line
    ]


async def settle(scene: Scene) -> None:
    """Wait (bounded) until the attack's connections are gone from the node."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        metrics = await scene.metrics()
        if metrics.get('todonode_connections{pool="client"}', 0) <= 4:
            return
        await asyncio.sleep(0.2)


async def fill(scene: Scene, tasks: int) -> None:
    """``tasks`` tasks in the list, 1,000 to a batch."""
    for start in range(0, tasks, 1000):
        batch = {"tasks": [{"title": f"task {n}"} for n in range(start, min(tasks, start + 1000))]}
        code, body, _ = await scene.client.call("POST", f"{scene.target.url}/tasks/batch", batch, timeout=30)
        assert code == 201, body


def allow_many_open_files() -> None:
    """The attackers hold thousands of sockets in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def table(results: list[Result], cpu: str) -> str:
    """The closing figures: per attack, write p50/p99 before and during, elections, RSS, and the
    longest the attacked node's event loop was blocked (it logs stalls of 10 ticks or more)."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    lines = [
        f"CPU: {cpu}",
        "| attack | writes p50 / p99 before (ms) | during (ms) | elections | RSS before → after (MB) "
        "| loop blocked | problems |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        stalls = [int(n) for line in r.loop_blocked for n in re.findall(r"blocked for (\d+) ms", line)]
        blocked = f"{len(stalls)}×, at most {max(stalls)} ms" if stalls else "never"
        problems = "; ".join(r.problems) or "none"
        lines.append(
            f"| {r.attack} | {ms(r.before['p50_ms'])} / {ms(r.before['p99_ms'])} "
            f"| {ms(r.during['p50_ms'])} / {ms(r.during['p99_ms'])} | {r.elections} "
            f"| {r.rss_before_mb:.0f} → {r.rss_after_mb:.0f} | {blocked} | {problems} |"
        )
    return "\n".join(lines)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()}, {len(os.sched_getaffinity(0))} cores"
    return "unknown"

"""What every attack of the suite runs against and is measured by: a real three-node cluster, a
writer that keeps writing to the attacked node and times each write, and the cluster's terms (an
election moves them) and the attacked node's memory and metrics, before and after.

The attacked node is the leader: an attack that stalls it shows at once, as late heartbeats and then
an election. The writer is 127.0.0.1; attackers take other loopback addresses (raw.py).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.integration.harness import Client, NodeProcess, ProcessCluster, find_leader, wait_for

from .memory import rss_bytes

# The shipped timings (configs/), so that a stall long enough to cost an election in use costs one here.
TIMINGS = {"heartbeat_ms": 100, "election_timeout_ms": 500, "leader_settle_ms": 1000, "write_wait_ms": 3000}
WRITE_TIMEOUT_S = 10


@dataclass
class Latencies:
    """One writer's run: how long each acknowledged write took, and the writes that failed."""

    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def percentile(self, p: float) -> float | None:
        if not self.seconds:
            return None
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] * 1000

    def summary(self) -> dict[str, Any]:
        median = statistics.median(self.seconds) * 1000 if self.seconds else None
        return {
            "writes": len(self.seconds),
            "p50_ms": median,
            "p99_ms": self.percentile(99),
            "failures": self.failures,
        }


class Writer:
    """Writes one task after another to ``url`` for ``seconds`` and times them, in a process of its own:
    the attackers' work in this process must not be what the latencies measure. A write whose
    connection the node closed (to make room, or idle too long) is sent again on a new one under the
    same key, as any client would: the key makes that safe, and the time it took counts."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def run(self, seconds: float) -> Latencies:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.abuse.writer", self.url, str(seconds), stdout=asyncio.subprocess.PIPE
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), seconds + 2 * WRITE_TIMEOUT_S)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        report = json.loads(out)
        return Latencies(report["seconds"], report["failures"])


async def write_for(url: str, seconds: float) -> Latencies:
    """The writer's own loop (``python -m tests.abuse.writer URL SECONDS``). Each task it creates is
    timed, then deleted (untimed), so that the list the attacks meet stays the size the suite made it."""
    out = Latencies()
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WRITE_TIMEOUT_S)) as session:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            started = time.monotonic()
            status, body = await _keyed(session, "POST", f"{url}/tasks", {"title": f"probe {n}"})
            if status == 201:
                out.seconds.append(time.monotonic() - started)
                await _keyed(session, "DELETE", f"{url}/tasks/{body['id']}")
            else:
                out.failures.append(f"HTTP {status}" if status else str(body))
    return out


async def _keyed(session: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> tuple[int, Any]:
    """One write under one key, sent again on a new connection when the one it went on was closed."""
    key = str(uuid.uuid4())
    deadline = time.monotonic() + WRITE_TIMEOUT_S
    while True:
        try:
            async with session.request(method, url, json=body, headers={"Idempotency-Key": key}) as resp:
                return resp.status, await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            if time.monotonic() > deadline:
                return 0, repr(exc)


@dataclass
class Scene:
    cluster: ProcessCluster
    client: Client
    target: NodeProcess  # the attacked node: the leader

    @classmethod
    async def start(cls, cluster: ProcessCluster, client: Client) -> Scene:
        cluster.start_all()
        leader = await find_leader(client, cluster, timeout=30)

        async def all_follow() -> bool:
            statuses = await asyncio.gather(*(client.status(n) for n in cluster.nodes))
            return all(s is not None and s["leader"] == leader.url for s in statuses)

        await wait_for(all_follow, 30, "every node to follow the leader")
        return cls(cluster, client, leader)

    async def term(self) -> int:
        """The highest term any node is in: it moves only by an election."""
        statuses = await asyncio.gather(*(self.client.status(n) for n in self.cluster.nodes))
        return max(s["term"] for s in statuses if s)

    async def leader(self) -> NodeProcess:
        return await find_leader(self.client, self.cluster, timeout=30)

    def rss(self) -> int:
        return rss_bytes(self.target)

    async def metrics(self) -> dict[str, float]:
        """The attacked node's metrics that take no labels, and those of the connection pools."""
        async with self.client.session.get(f"{self.target.url}/metrics") as resp:
            text = await resp.text()
        values = {}
        for line in text.splitlines():
            if line.startswith("todonode_") and " " in line:
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

"""Continuous idempotent writes against a cluster, and what they saw.

Each client creates tasks, one at a time, each with a title no other write uses and an
Idempotency-Key of its own. A write that gets no answer, or an answer that says "not now" or "not
here" (5xx, 410, 421, 429), is sent again with the same key to another node, until it is
acknowledged: so every write is acknowledged exactly once, and the tasks the cluster ends with must be
exactly the acknowledged ones.
Any other answer is a failure the test reports.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from dataclasses import dataclass, field

import aiohttp

# 410: the node was removed from the cluster (it refuses the write before proposing it): ask another.
RETRY = {0, 410, 421, 429, 500, 502, 503, 504, 507}
# A follower being stopped holds a write it forwarded until it has applied it, which it cannot once its
# peer streams are closed: up to cluster.write_wait_ms. A client that gives a node a second, then tries
# another, keeps writing through it; writes take milliseconds otherwise.
ATTEMPT_TIMEOUT_S = 1.0
STUCK_AFTER_S = 60.0  # a write not acknowledged by then means the cluster stopped accepting writes


@dataclass(frozen=True, slots=True)
class Ack:
    title: str
    task_id: str
    at: float  # time.monotonic() when the acknowledgement arrived
    attempts: int


@dataclass
class Writers:
    session: aiohttp.ClientSession
    urls: list[str]
    clients: int
    seed: int
    acks: list[Ack] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # answers no retry can fix
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        await asyncio.gather(*(self._client(c) for c in range(self.clients)))

    async def _client(self, cid: int) -> None:
        rng = random.Random(f"{self.seed}/{cid}")
        n = 0
        while not self.stopping.is_set():
            n += 1
            await self._write(rng, f"c{cid}-w{n}")

    async def _write(self, rng: random.Random, title: str) -> None:
        key, url = str(uuid.uuid4()), rng.choice(self.urls)
        started = time.monotonic()
        attempts = 0
        while time.monotonic() - started < STUCK_AFTER_S:
            attempts += 1
            status, body = await self._attempt(url, title, key)
            if status == 201 and isinstance(body, dict):
                self.acks.append(Ack(title, body["id"], time.monotonic(), attempts))
                return
            if status not in RETRY:
                self.problems.append(f"{title}: {status} {body}")
                return
            await asyncio.sleep(rng.uniform(0.01, 0.05))
            url = rng.choice([u for u in self.urls if u != url])
        self.problems.append(f"{title}: not acknowledged within {STUCK_AFTER_S:.0f} s")

    async def _attempt(self, url: str, title: str, key: str) -> tuple[int, object]:
        try:
            async with self.session.post(
                url + "/tasks",
                json={"title": title},
                headers={"Idempotency-Key": key},
                timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT_S),
            ) as resp:
                return resp.status, await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            return 0, None

    def longest_pause(self, start: float, end: float) -> tuple[float, float]:
        """The longest time in [start, end] without an acknowledgement, and when it began."""
        times = [start, *sorted(a.at for a in self.acks if start <= a.at <= end), end]
        return max((b - a, a) for a, b in itertools.pairwise(times))


def check_nothing_lost_or_duplicated(writers: Writers, final_titles: list[str]) -> None:
    """Every acknowledged write is in ``final_titles`` (the cluster's tasks) exactly once, and nothing
    else is; no write got an answer a retry cannot fix."""
    assert not writers.problems, writers.problems[:5]
    acked = {a.title for a in writers.acks}
    assert len(final_titles) == len(set(final_titles)), "a write was applied twice"
    assert set(final_titles) == acked, (
        f"lost: {sorted(acked - set(final_titles))[:5]}, "
        f"never acknowledged: {sorted(set(final_titles) - acked)[:5]}"
    )

"""The clients and the monitor of a chaos run.

Clients: each is a coroutine issuing creates, updates, deletes and strong reads, one at a time, to a
node picked at random. Every write carries its own Idempotency-Key and is retried — on another node —
after a timeout, a refused connection or a 5xx, until it is acknowledged or its deadline passes. A
client only updates and deletes tasks it created itself (and whose create was acknowledged), so the
versions of a task follow one client's order and the checker can tell exactly what each task must
hold. Every create and update uses a title no other write uses.

Monitor: one coroutine per node polls ``/status`` in sequence and records every change of role or
term; the nemesis asks it who leads.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .history import FAIL, OK, UNKNOWN, Attempt, History, Op, TermSample

RETRYABLE = {0, 421, 429, 500, 502, 503, 504, 507}


@dataclass
class WorkloadOptions:
    clients: int = 5
    attempt_timeout_s: float = 4.0  # a paused node holds a request until this
    op_deadline_s: float = 15.0  # after this a write's outcome stays unknown
    think_s: tuple[float, float] = (0.005, 0.04)  # pause between one client's operations
    live_per_client: int = 25  # above this many own tasks, a client deletes
    weights: dict[str, int] = field(
        default_factory=lambda: {"create": 40, "update": 30, "delete": 12, "read": 18}
    )


class Workload:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: dict[str, str],  # node id -> base URL
        history: History,
        seed: int,
        options: WorkloadOptions | None = None,
    ):
        self.session = session
        self.urls = urls
        self.history = history
        self.seed = seed
        self.options = options or WorkloadOptions()
        self.stopping = asyncio.Event()
        self.counts: Counter[str] = Counter()  # "<kind> <outcome>" -> n, for the progress line
        self._title = 0

    async def run(self) -> None:
        await asyncio.gather(*(self._client(c) for c in range(self.options.clients)))

    def stop(self) -> None:
        self.stopping.set()

    # ------------------------------------------------------------------------------------ a client

    async def _client(self, cid: int) -> None:
        rng = random.Random(f"{self.seed}/{cid}")
        mine: dict[str, int] = {}  # own tasks whose create was acknowledged -> version last acknowledged
        kinds = list(self.options.weights)
        weights = list(self.options.weights.values())
        while not self.stopping.is_set():
            kind = rng.choices(kinds, weights)[0]
            if len(mine) >= self.options.live_per_client:
                kind = "delete"
            if kind in ("update", "delete") and not mine:
                kind = "create"
            if kind == "read":
                await self.read(cid, rng)
            elif kind == "create":
                op = await self.write(cid, rng, "create", title=self._new_title(cid))
                if op.acked:
                    mine[op.task] = 1
            elif kind == "update":
                task = rng.choice(sorted(mine))
                op = await self.write(cid, rng, "update", task=task, title=self._new_title(cid))
                if op.acked:
                    mine[task] = op.version or mine[task]
                elif op.outcome == FAIL:
                    mine.pop(task, None)
            else:
                task = rng.choice(sorted(mine))
                await self.write(cid, rng, "delete", task=task)
                mine.pop(task, None)  # whatever happened, this client never touches it again
            await asyncio.sleep(rng.uniform(*self.options.think_s))

    def _new_title(self, cid: int) -> str:
        self._title += 1
        return f"c{cid}-t{self._title}"

    async def write(self, cid: int, rng: random.Random, kind: str, *, task=None, title=None) -> Op:
        """One write, retried with the same key until acknowledged or out of time."""
        key = str(uuid.uuid4())
        op = self.history.new_op(cid, kind, time.monotonic(), task=task, title=title, key=key)
        if kind == "create":
            method, path, body = "POST", "/tasks", {"title": title}
        elif kind == "update":
            method, path, body = "PATCH", f"/tasks/{task}", {"title": title}
        else:
            method, path, body = "DELETE", f"/tasks/{task}", None
        deadline = op.start + self.options.op_deadline_s
        node = rng.choice(sorted(self.urls))
        while True:
            status, data, attempt = await self._attempt(node, method, path, body, {"Idempotency-Key": key})
            op.attempts.append(attempt)
            op.status = status
            if 200 <= status < 300:
                op.outcome = OK
                if kind != "delete" and isinstance(data, dict) and isinstance(data.get("id"), str):
                    op.task = sys.intern(data["id"])
                    op.version = data.get("version")
                break
            if status not in RETRYABLE:
                op.outcome = FAIL if status == 404 else UNKNOWN
                break
            if time.monotonic() >= deadline:
                op.outcome = UNKNOWN
                break
            await asyncio.sleep(rng.uniform(0.02, 0.15))
            node = rng.choice([n for n in sorted(self.urls) if n != node] or [node])
        op.end = time.monotonic()
        self.counts[f"{kind} {op.outcome}"] += 1
        return op

    async def read(self, cid: int, rng: random.Random) -> Op:
        """A strong read of the whole list (one page: the clients keep far fewer than 1,000 tasks
        live); tried on up to two nodes. Only an answered read is checked."""
        op = self.history.new_op(cid, "read", time.monotonic())
        nodes = rng.sample(sorted(self.urls), k=min(2, len(self.urls)))
        for node in nodes:
            status, data, attempt = await self._attempt(
                node, "GET", "/tasks?consistency=strong&limit=1000", None, None
            )
            op.attempts.append(attempt)
            op.status = status
            if status == 200 and isinstance(data, dict):
                op.outcome = OK
                op.read_start = attempt.start
                # Ids interned: a long run holds thousands of reads of the same few hundred tasks.
                op.seen = {sys.intern(t["id"]): t["version"] for t in data["tasks"]}
                break
        else:
            op.outcome = FAIL
        op.end = time.monotonic()
        self.counts[f"read {op.outcome}"] += 1
        return op

    async def _attempt(
        self, node: str, method: str, path: str, body: Any, headers: dict[str, str] | None
    ) -> tuple[int, Any, Attempt]:
        start = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=self.options.attempt_timeout_s)
        try:
            async with self.session.request(
                method, self.urls[node] + path, json=body, headers=headers, timeout=timeout
            ) as resp:
                raw = await resp.read()
                try:
                    data = await resp.json(content_type=None) if raw else None
                except ValueError:
                    data = None
                error = data.get("error") if isinstance(data, dict) and resp.status >= 300 else None
                served = resp.headers.get("X-Todonode-Node")
                return resp.status, data, Attempt(node, start, time.monotonic(), resp.status, error, served)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return 0, None, Attempt(node, start, time.monotonic(), 0, type(exc).__name__)


# ================================================================================== the monitor


@dataclass
class NodeView:
    at: float
    role: str
    term: int
    leader: str | None
    commit: int
    applied: int


class Monitor:
    """Polls every node's /status; keeps the latest view of each and records role/term changes."""

    def __init__(self, session: aiohttp.ClientSession, urls: dict[str, str], history: History, every_s=0.1):
        self.session = session
        self.urls = urls
        self.history = history
        self.every_s = every_s
        self.latest: dict[str, NodeView | None] = dict.fromkeys(urls)
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        await asyncio.gather(*(self._watch(node) for node in self.urls))

    def stop(self) -> None:
        self.stopping.set()

    async def _watch(self, node: str) -> None:
        last: tuple[str, int] | None = None
        timeout = aiohttp.ClientTimeout(total=0.5)
        while not self.stopping.is_set():
            try:
                async with self.session.get(self.urls[node] + "/status", timeout=timeout) as resp:
                    s = await resp.json(content_type=None) if resp.status == 200 else None
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
                s = None
            now = time.monotonic()
            if isinstance(s, dict):
                view = NodeView(
                    now, s["role"], s["term"], s.get("leader_id"), s["commit_index"], s["applied_index"]
                )
                self.latest[node] = view
                if (view.role, view.term) != last:
                    last = (view.role, view.term)
                    self.history.terms.append(TermSample(node, now, view.term, view.role, "status"))
            else:
                self.latest[node] = None
            await asyncio.sleep(self.every_s)

    def leader(self, fresh_s: float = 1.5) -> str | None:
        """The node that most recently said it leads, in the highest term, if it said so lately."""
        now = time.monotonic()
        views = [
            (v.term, node)
            for node, v in self.latest.items()
            if v is not None and v.role == "leader" and now - v.at <= fresh_s
        ]
        return max(views)[1] if views else None

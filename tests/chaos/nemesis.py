"""The nemesis: injects one fault at a time on a seeded random schedule, holds it, heals it.

The schedule (which fault, in which order, for how long, on which node when not "the leader") comes
from ``random.Random(seed)``; which node leads at that moment comes from the monitor, so the same seed
gives the same sequence of fault kinds and timings, not necessarily the same victims.

Fault kinds draw from a shuffled deck, refilled when empty, so a run long enough for one deck
injects every kind at least once.

Process faults (any profile): ``kill`` and ``kill-leader`` (kill -9, then restart), ``pause`` and
``pause-leader`` (SIGSTOP for longer than the election timeout, then SIGCONT), ``restart-many``
(kill -9 of two or more nodes at once, then restart them together), ``restart-leader`` (SIGTERM: a
planned restart with hand-over). Network faults (netns profile only, real cuts in the kernel):
``partition-minority`` (one node against the rest), ``partition-halves`` (two against two: no
majority anywhere), ``isolate-leader`` (the leader against the rest), ``asymmetric`` (one node cannot
send to some others, or the leader cannot send at all but still receives), ``link-down`` (a node's
link taken down: not even clients reach it). Membership (any profile): ``membership`` adds a learner
at an address where nothing listens and removes it after a while — two configuration changes through
the log, made through the administrators' API while everything else goes on; a change refused for now
(one in flight, no leader) is asked again until the fault's time is up.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass

import aiohttp

from tests.integration.harness import ProcessCluster, free_port
from tests.integration.membership import ADMIN

from .history import Fault, History
from .netns import Network
from .workload import Monitor

PROCESS_FAULTS = ("kill", "kill-leader", "pause", "pause-leader", "restart-many", "restart-leader")
MEMBERSHIP_FAULTS = ("membership",)
NETWORK_FAULTS = ("partition-minority", "partition-halves", "isolate-leader", "asymmetric", "link-down")


@dataclass
class NemesisOptions:
    quiet_s: tuple[float, float] = (0.5, 2.5)  # healthy time between faults
    hold_s: tuple[float, float] = (1.0, 4.0)  # how long a partition lasts
    pause_s: tuple[float, float] = (0.6, 2.5)  # SIGSTOP; always longer than the election timeout (0.3 s)
    down_s: tuple[float, float] = (0.2, 3.0)  # how long a killed node stays dead


class Nemesis:
    def __init__(
        self,
        cluster: ProcessCluster,
        network: Network | None,
        monitor: Monitor,
        history: History,
        seed: int,
        kinds: tuple[str, ...] | None = None,
        options: NemesisOptions | None = None,
    ):
        self.cluster = cluster
        self.network = network
        self.monitor = monitor
        self.history = history
        self.rng = random.Random(seed)
        self.kinds = kinds or (PROCESS_FAULTS + MEMBERSHIP_FAULTS + (NETWORK_FAULTS if network else ()))
        if network is None and any(k in NETWORK_FAULTS for k in self.kinds):
            raise ValueError("network faults need the netns profile")
        self.options = options or NemesisOptions()
        self.paused: set[int] = set()
        self.counts: Counter[str] = Counter()
        self.current: Fault | None = None
        self.stopping = asyncio.Event()
        self._deck: list[str] = []
        self._ids = {node.id: node.index for node in cluster.nodes}

    def stop(self) -> None:
        self.stopping.set()

    def injected_every_kind(self) -> bool:
        """Whether each kind this nemesis draws from has struck at least once, and ended."""
        done = {f.kind for f in self.history.faults if f.injected and f.end is not None}
        return done >= set(self.kinds)

    async def run(self) -> None:
        try:
            while not self.stopping.is_set():
                if await self._wait(self.rng.uniform(*self.options.quiet_s)):
                    break
                await self.inject(self._next_kind())
        finally:
            await self.heal_all()

    def _next_kind(self) -> str:
        if not self._deck:
            self._deck = list(self.kinds)
            self.rng.shuffle(self._deck)
        return self._deck.pop()

    async def _wait(self, seconds: float) -> bool:
        """Sleep (a schedule's own timing), or return True early when the run is stopping."""
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
            return True
        except TimeoutError:
            return False

    # ---------------------------------------------------------------------------------- faults

    def _leader_or_any(self) -> int:
        leader = self.monitor.leader()
        if leader is not None:
            return self._ids[leader]
        return self.rng.randrange(self.cluster.size)

    def _names(self, indexes) -> list[str]:
        return [self.cluster.nodes[i].id for i in indexes]

    async def inject(self, kind: str) -> None:
        rng, size, o = self.rng, self.cluster.size, self.options
        fault = Fault(kind, [], time.monotonic())
        self.current = fault
        self.history.faults.append(fault)
        self.counts[kind] += 1
        try:
            if kind in ("kill", "kill-leader"):
                i = self._leader_or_any() if kind == "kill-leader" else rng.randrange(size)
                fault.targets = self._names([i])
                fault.injected = await self._kill([i]) == 1
                await self._wait(rng.uniform(*o.down_s))
                await self._start([i])
            elif kind in ("pause", "pause-leader"):
                i = self._leader_or_any() if kind == "pause-leader" else rng.randrange(size)
                fault.targets = self._names([i])
                fault.injected = self._pause(i)
                await self._wait(rng.uniform(*o.pause_s))
                self._resume(i)
            elif kind == "restart-many":
                victims = sorted(rng.sample(range(size), rng.randint(2, size)))
                fault.targets = self._names(victims)
                fault.injected = await self._kill(victims) >= 2
                await self._wait(rng.uniform(*o.down_s))
                await self._start(victims)
            elif kind == "restart-leader":
                i = self._leader_or_any()
                fault.targets = self._names([i])
                fault.injected = self.cluster.nodes[i].running
                code = await self._terminate(i)
                fault.detail = f"exit {code}"
                await self._start([i])
            elif kind == "membership":
                await self._membership_change(fault)
            else:
                await self._network_fault(kind, fault)
        finally:
            fault.end = time.monotonic()
            self.current = None

    async def _network_fault(self, kind: str, fault: Fault) -> None:
        rng, size, net = self.rng, self.cluster.size, self.network
        assert net is not None
        hold = rng.uniform(*self.options.hold_s)
        if kind == "partition-minority":
            lone = rng.randrange(size)
            rest = [i for i in range(size) if i != lone]
            fault.targets, fault.detail = self._names([lone]), f"vs {'+'.join(self._names(rest))}"
            await asyncio.to_thread(net.partition, [lone], rest)
        elif kind == "partition-halves":
            half = sorted(rng.sample(range(size), size // 2))
            rest = [i for i in range(size) if i not in half]
            fault.targets, fault.detail = self._names(half), f"vs {'+'.join(self._names(rest))}"
            await asyncio.to_thread(net.partition, half, rest)
        elif kind == "isolate-leader":
            lone = self._leader_or_any()
            rest = [i for i in range(size) if i != lone]
            fault.targets, fault.detail = self._names([lone]), "leader vs the rest"
            await asyncio.to_thread(net.partition, [lone], rest)
        elif kind == "asymmetric":
            if rng.random() < 0.5:
                src = self._leader_or_any()
                dsts = [i for i in range(size) if i != src]
                fault.detail = "the leader cannot send, still receives"
            else:
                src = rng.randrange(size)
                others = [i for i in range(size) if i != src]
                dsts = sorted(rng.sample(others, rng.randint(1, len(others))))
                fault.detail = f"cannot send to {'+'.join(self._names(dsts))}"
            fault.targets = self._names([src])
            await asyncio.to_thread(lambda: [net.block(src, d) for d in dsts])
        elif kind == "link-down":
            i = self._leader_or_any() if rng.random() < 0.5 else rng.randrange(size)
            fault.targets = self._names([i])
            await asyncio.to_thread(net.isolate, i)
        else:
            raise ValueError(f"unknown fault kind {kind!r}")
        fault.injected = True
        await self._wait(hold)
        await asyncio.to_thread(net.heal)

    async def _membership_change(self, fault: Fault) -> None:
        url = f"{self.cluster.scheme}://127.0.0.1:{free_port()}"  # nothing listens there
        hold = self.rng.uniform(*self.options.hold_s)
        async with aiohttp.ClientSession() as session:
            added = await self._administer(session, "POST", "/cluster/members", {"url": url}, hold)
            fault.injected = added is not None
            if added is None:
                fault.detail = "no change could be made"
                return
            fault.targets = [added["id"]]
            await self._wait(hold)
            removed = await self._administer(session, "DELETE", f"/cluster/members/{added['id']}", None, 30)
            fault.detail = "learner added and removed" if removed else "learner added; its removal refused"

    async def _administer(
        self, session: aiohttp.ClientSession, method: str, path: str, body: object, within_s: float
    ) -> dict[str, object] | None:
        """The answer of the first running node that makes the change, asked again until ``within_s``."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            for node in [n for n in self.cluster.nodes if n.running]:
                try:
                    async with session.request(
                        method,
                        node.url + path,
                        json=body,
                        headers=ADMIN,
                        timeout=aiohttp.ClientTimeout(total=5),
                    ) as resp:
                        if resp.status in (200, 201):
                            answer: dict[str, object] = await resp.json()
                            return answer
                except (aiohttp.ClientError, TimeoutError):
                    continue
            await self._wait(0.2)
        return None

    # -------------------------------------------------------------------------- process control

    async def _kill(self, indexes: list[int]) -> int:
        """kill -9 each of ``indexes``; returns how many were running."""
        running = [i for i in indexes if self.cluster.nodes[i].running]
        for i in indexes:
            self.paused.discard(i)  # SIGKILL ends a stopped process too
        await asyncio.to_thread(lambda: [self.cluster.kill(i) for i in running])
        return len(running)

    async def _start(self, indexes: list[int]) -> None:
        for i in indexes:
            if not self.cluster.nodes[i].running:
                self.cluster.start(i)

    def _pause(self, i: int) -> bool:
        if not self.cluster.nodes[i].running:
            return False
        self.cluster.pause(i)
        self.paused.add(i)
        return True

    def _resume(self, i: int) -> None:
        if i in self.paused and self.cluster.nodes[i].running:
            self.cluster.resume(i)
        self.paused.discard(i)

    async def _terminate(self, i: int) -> int | None:
        if not self.cluster.nodes[i].running:
            return None
        try:
            return await asyncio.to_thread(self.cluster.terminate, i, 15)
        except Exception:  # did not stop in time: no longer a planned restart
            await self._kill([i])
            return None

    async def heal_all(self) -> None:
        """Undo every fault: resume, reconnect, restart whatever is down."""
        for i in sorted(self.paused):
            self._resume(i)
        if self.network is not None:
            await asyncio.to_thread(self.network.heal)
        await self._start(list(range(self.cluster.size)))

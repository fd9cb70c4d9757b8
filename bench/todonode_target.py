"""A local four-node todonode cluster: ``python -m todonode.cli --config FILE`` per node.

Each node gets a config that sets only where it lives (port, data directory, members) and ``fsync =
true``: every timing is the shipped default, so the figures are those of a cluster as users run it.
Nodes log at the default level to a file per node under the temporary root. With ``certs`` (a
directory ``todonode certs init`` filled, with a certificate named for each node id) the members speak
TLS, mutual between peers, as ``[tls]`` sets it up.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from .client import HttpJson, Outcome, error_kind
from .targets import Member, Target, free_ports, wait_for

SECRET = "a4d7691cfdafa090267814b6995dfa66dda70f0a49e0488d404f61ca063dee73"  # 32 random bytes, in hex


class TodonodeTarget(Target):
    name = "todonode"

    def __init__(
        self,
        root: Path,
        http: HttpJson,
        size: int = 4,
        ports: list[int] | None = None,
        certs: Path | None = None,
        snapshot_every: int | None = None,
        max_tasks: int | None = None,
    ) -> None:
        """``max_tasks``: raise the storage quota to that many tasks (and 1 KiB of them each), for a
        cluster filled beyond the defaults."""
        super().__init__(root, http, size)
        self.ports = ports or free_ports(size)
        scheme = "https" if certs else "http"
        urls = [f"{scheme}://127.0.0.1:{p}" for p in self.ports]
        members = "[" + ", ".join(f'"{u}"' for u in urls) + "]"
        self.notes: list[str] = []
        for i, port in enumerate(self.ports):
            config = root / f"node{port}.toml"
            tls = "" if certs is None else _tls_section(certs, f"node{port}")
            config.write_text(
                "[node]\n"
                'host = "127.0.0.1"\n'
                f"port = {port}\n"
                f'data_dir = "{root / f"data{port}"}"\n'
                "[cluster]\n"
                f"nodes = {members}\n"
                "[storage]\n"
                "fsync = true\n"
                + ("" if snapshot_every is None else f"snapshot_every = {snapshot_every}\n")
                + ("" if max_tasks is None else f"max_tasks = {max_tasks}\nmax_bytes = {max_tasks * 1024}\n")
                + tls
            )
            self.members.append(Member(i, f"node{port}", urls[i], root / f"node{port}.log"))

    def command(self, member: Member) -> list[str]:
        config = self.root / f"{member.name}.toml"
        return [sys.executable, "-m", "todonode.cli", "--config", str(config)]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "TODONODE_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}

    # ------------------------------------------------------------------------------------ the cluster

    async def status(self, i: int) -> dict[str, Any] | None:
        reply = await self.http.request("GET", self.members[i].url + "/status", timeout=2)
        return reply.body if reply.status == 200 and isinstance(reply.body, dict) else None

    async def ready(self, i: int) -> bool:
        reply = await self.http.request("GET", self.members[i].url + "/ready", timeout=2)
        return reply.status == 200

    async def _agreed_leader(self) -> int | None:
        running = self.running()
        statuses = await asyncio.gather(*(self.status(i) for i in running))
        leaders = [(s["term"], i) for i, s in zip(running, statuses, strict=True) if s and s.get("is_leader")]
        if not leaders:
            return None
        term, leader = max(leaders)
        url = self.members[leader].url
        agree = sum(1 for s in statuses if s and s.get("leader") == url and s.get("term") == term)
        return leader if agree * 2 > self.size else None

    async def leader(self, timeout: float = 10) -> int:
        async def probe() -> int | None:
            found = await self._agreed_leader()
            return None if found is None else found + 1  # 0 is a valid index: shift past falsiness

        return await wait_for(probe, timeout, "a todonode leader the majority agrees on") - 1

    async def wait_settled(self, timeout: float = 30) -> None:
        """Every running node ready, and the leader the lowest-port running node (where leader
        preference puts it once that node has stayed caught up for ``leader_settle_ms``)."""
        preferred = min(self.running())

        async def probe() -> bool:
            if await self._agreed_leader() != preferred:
                return False
            return all(await asyncio.gather(*(self.ready(i) for i in self.running())))

        try:
            await wait_for(probe, timeout, "todonode to settle", interval=0.05)
        except TimeoutError:
            leader = await self.leader()  # a cluster with no leader at all is a failure
            self.notes.append(
                f"leadership did not settle on the preferred node {self.members[preferred].name} within "
                f"{timeout:.0f} s (the leader was {self.members[leader].name}); went on with it"
            )

    def snapshot_mb(self) -> float:
        """The largest snapshot file any member holds now."""
        sizes = [f.stat().st_size for f in self.root.glob("data*/snapshots/snap-*.json")]
        return max(sizes, default=0) / 1e6

    async def term(self) -> int:
        statuses = await asyncio.gather(*(self.status(i) for i in self.running()))
        return max((s["term"] for s in statuses if s), default=0)

    # ------------------------------------------------------------------------------------ requests

    async def put(self, member: int, n: int, *, keyed: bool = False, timeout: float = 30) -> Outcome:
        headers = {"Idempotency-Key": str(uuid.uuid4())} if keyed else None
        reply = await self.http.request(
            "POST", self.members[member].url + "/tasks", {"title": f"bench {n}"}, headers, timeout
        )
        if reply.status == 201 and isinstance(reply.body, dict):
            return Outcome(True, reply.body.get("id"))
        return Outcome(False, error=error_kind(reply))

    async def visible(self, member: int, key: str) -> bool:
        reply = await self.http.request("GET", f"{self.members[member].url}/tasks/{key}", timeout=2)
        return reply.status == 200

    def wrk_request(self, mode: str, key: str, local: bool) -> tuple[str, list[str]]:
        consistency = "local" if local else "strong"
        return "todonode.lua", [mode, f"/tasks/{key}?consistency={consistency}"]

    async def batch(self, member: int, first: int, count: int) -> None:
        body = {"tasks": [{"title": f"filler {first + k}"} for k in range(count)]}
        reply = await self.http.request("POST", self.members[member].url + "/tasks/batch", body, timeout=60)
        if reply.status != 201:
            raise RuntimeError(f"POST /tasks/batch answered {error_kind(reply)}")


def _tls_section(certs: Path, name: str) -> str:
    files = {"cert_file": f"{name}.crt", "key_file": f"{name}.key", "ca_file": "ca.crt"}
    return "[tls]\n" + "".join(f'{key} = "{certs / file}"\n' for key, file in files.items())

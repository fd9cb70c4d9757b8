"""A local four-member etcd cluster, driven through its v3 JSON gateway with the same client as todonode.

Each member listens on two free loopback ports (clients, peers) and keeps its data in a directory
under the temporary root; etcd's own defaults apply (fsync on, 100 ms heartbeat, 1 s election
timeout). With ``certs`` (a directory ``todonode certs init`` filled, with a certificate named for
each member, m0, m1, ...) both ports speak TLS and both require a client certificate from that CA:
``--client-cert-auth`` and ``--peer-client-cert-auth``, as todonode's peers do.

A write is ``POST /v3/kv/put`` with a base64 key and a value about the size of a stored
todonode task; "visible on a member" is a serializable ``POST /v3/kv/range`` on that member, which
answers from its own state; the leader is found with ``POST /v3/maintenance/status``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .client import HttpJson, Outcome, error_kind
from .targets import Member, Target, free_ports, wait_for

INSTALL_HINT = (
    "apt-get install -y etcd-server (Debian/Ubuntu), or put an etcd 3.4+ binary on PATH or in $ETCD_BINARY"
)


def find_etcd() -> str | None:
    """The etcd binary: $ETCD_BINARY if set, else ``etcd`` on PATH."""
    explicit = os.environ.get("ETCD_BINARY")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("etcd")


def etcd_version(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    for line in out.splitlines():
        if line.lower().startswith("etcd version:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


class EtcdTarget(Target):
    name = "etcd"

    def __init__(
        self, root: Path, http: HttpJson, binary: str, size: int = 4, certs: Path | None = None
    ) -> None:
        super().__init__(root, http, size)
        self.binary = binary
        self.certs = certs
        self.scheme = "https" if certs else "http"
        ports = free_ports(2 * size)
        self.client_ports, self.peer_ports = ports[:size], ports[size:]
        self.token = uuid.uuid4().hex[:8]
        self.initial_cluster = ",".join(
            f"m{i}={self.scheme}://127.0.0.1:{p}" for i, p in enumerate(self.peer_ports)
        )
        self.ids: dict[str, int] = {}  # etcd member id (decimal string) -> index
        for i, port in enumerate(self.client_ports):
            url = f"{self.scheme}://127.0.0.1:{port}"
            self.members.append(Member(i, f"m{i}", url, root / f"etcd-m{i}.log"))

    def _tls_flags(self, member: Member) -> list[str]:
        if self.certs is None:
            return []
        cert, key = (str(self.certs / f"{member.name}.{ext}") for ext in ("crt", "key"))
        ca = str(self.certs / "ca.crt")
        return [
            "--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca, "--client-cert-auth",
            "--peer-cert-file", cert, "--peer-key-file", key, "--peer-trusted-ca-file", ca,
            "--peer-client-cert-auth",
        ]  # fmt: skip

    def command(self, member: Member) -> list[str]:
        i = member.index
        peer = f"{self.scheme}://127.0.0.1:{self.peer_ports[i]}"
        return [
            self.binary,
            "--name", member.name,
            "--data-dir", str(self.root / f"data-m{i}"),
            "--listen-client-urls", member.url,
            "--advertise-client-urls", member.url,
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", self.initial_cluster,
            "--initial-cluster-state", "new",
            "--initial-cluster-token", f"bench-{self.token}",
            "--logger", "zap",
            "--log-outputs", "stderr",
            "--log-level", "warn",
            *self._tls_flags(member),
        ]  # fmt: skip

    # ------------------------------------------------------------------------------------ the cluster

    async def status(self, i: int) -> dict[str, Any] | None:
        reply = await self.http.request("POST", self.members[i].url + "/v3/maintenance/status", {}, timeout=2)
        if reply.status != 200 or not isinstance(reply.body, dict) or "header" not in reply.body:
            return None
        self.ids[reply.body["header"]["member_id"]] = i
        return reply.body

    async def _agreed_leader(self) -> tuple[int, list[dict[str, Any] | None]] | None:
        running = self.running()
        statuses = await asyncio.gather(*(self.status(i) for i in running))
        votes: dict[str, int] = {}
        for s in statuses:
            if s and s.get("leader", "0") != "0":
                votes[s["leader"]] = votes.get(s["leader"], 0) + 1
        for leader_id, count in votes.items():
            if count * 2 > self.size and leader_id in self.ids and self.members[self.ids[leader_id]].running:
                return self.ids[leader_id], statuses
        return None

    async def leader(self, timeout: float = 10) -> int:
        found = await wait_for(self._agreed_leader, timeout, "an etcd leader the majority agrees on")
        return found[0]

    async def wait_settled(self, timeout: float = 30) -> None:
        """Every running member answers, they all name the same leader, and each has applied what the
        leader had."""

        async def probe() -> bool:
            found = await self._agreed_leader()
            if found is None:
                return False
            _, statuses = found
            if any(s is None for s in statuses):
                return False
            leader_id = statuses[0]["leader"]
            if any(s["leader"] != leader_id for s in statuses):
                return False
            top = max(int(s["raftIndex"]) for s in statuses)
            return all(int(s.get("raftAppliedIndex", s["raftIndex"])) >= top - 2 for s in statuses)

        await wait_for(probe, timeout, "etcd to settle", interval=0.05)

    # ------------------------------------------------------------------------------------ requests

    def _value(self, n: int) -> bytes:
        """About what todonode stores for a task, so both systems move similar bytes."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        task = {
            "id": str(uuid.uuid4()),
            "title": f"bench {n}",
            "completed": False,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        return orjson.dumps(task)

    async def put(self, member: int, n: int, *, keyed: bool = False, timeout: float = 30) -> Outcome:
        key = _b64(f"bench/{self.token}/{n}")
        body = {"key": key, "value": _b64(self._value(n))}
        reply = await self.http.request("POST", self.members[member].url + "/v3/kv/put", body, None, timeout)
        if reply.status == 200 and isinstance(reply.body, dict) and "error" not in reply.body:
            return Outcome(True, key)
        return Outcome(False, error=error_kind(reply))

    def wrk_request(self, mode: str, key: str, local: bool) -> tuple[str, list[str]]:
        # The script appends a counter's base64 to the prefix: the prefix must fill whole base64 groups.
        prefix = f"wrk/{self.token}/"
        prefix += "-" * (-len(prefix) % 3)
        serializable = "true" if local else "false"
        return "etcd.lua", [mode, key, serializable, _b64(self._value(0)), _b64(prefix)]

    async def visible(self, member: int, key: str) -> bool:
        body = {"key": key, "serializable": True}
        reply = await self.http.request("POST", self.members[member].url + "/v3/kv/range", body, timeout=2)
        return reply.status == 200 and isinstance(reply.body, dict) and bool(reply.body.get("kvs"))

"""Real ``todonode`` processes on free loopback ports, each in its own temporary data directory.

Every process started here is remembered by PID and killed in ``close()``, whatever the test did.
Waiting is always a poll with a deadline (``wait_for``), never a bare sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from todonode import certs
from todonode.config import member_ids

T = TypeVar("T")
SECRET = "aaff831dd89ccc54cd401c4d9b2cfd62ab8df25e23afd17eebf343f4406b36a0"  # 32 random bytes, in hex
# How long a poll for a cluster's state waits before it fails the test. Generous: a machine loaded by
# other work can stall a node for seconds, and a test that passes never waits it out.
DEADLINE_S = 30.0

DEFAULT_TIMINGS = {
    "tick_ms": 10,
    "heartbeat_ms": 50,
    "election_timeout_ms": 300,
    "leader_settle_ms": 1000,
    "write_wait_ms": 3000,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports, ascending. Held open together while chosen: one
    ``free_port()`` after another may hand back the port just closed."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return sorted(s.getsockname()[1] for s in sockets)
    finally:
        for s in sockets:
            s.close()


@dataclass
class NodeProcess:
    index: int
    port: int
    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"
    member_id: str | None = None  # set when ids are not "node<port>" (members on hosts sharing a port)
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def id(self) -> str:
        return self.member_id or f"node{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class ProcessCluster:
    root: Path
    size: int
    timings: dict[str, int] = field(default_factory=dict)
    storage: dict[str, Any] = field(default_factory=dict)
    api: dict[str, Any] = field(default_factory=dict)
    nodes: list[NodeProcess] = field(default_factory=list)
    python: str = sys.executable  # the interpreter that runs the nodes
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the nodes, e.g. PYTHONPATH
    log_level: str = "debug"
    node_keys: dict[str, Any] = field(default_factory=dict)  # more [node] keys, e.g. peer_port
    tls: bool = False  # every member speaks TLS, mutual between peers, with certificates from certs_dir

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def certs_dir(self) -> Path:
        """Where ``tls`` keeps the cluster's CA and certificates, made by ``todonode certs init``."""
        return self.root / "certs"

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        ports = free_ports(self.size)
        urls = [f"{self.scheme}://127.0.0.1:{p}" for p in ports]
        self._make_certificates([(f"node{port}", "127.0.0.1") for port in ports])
        for i, port in enumerate(ports):
            config = self.root / f"node{port}.toml"
            config.write_text(self._config_text(port, urls))
            node = NodeProcess(i, port, config, self.root / f"node{port}.log", scheme=self.scheme)
            self.nodes.append(node)

    def ssl_context(self, certificate: str | None = "client") -> ssl.SSLContext:
        """A client's context for ``tls``: trusts the cluster's CA, and presents ``certificate`` (the
        terminal client's by default, a member's by its id, or none)."""
        context = ssl.create_default_context(cafile=self.certs_dir / "ca.crt")
        if certificate is not None:
            stem = certs.Member(certificate, ()).stem
            context.load_cert_chain(self.certs_dir / f"{stem}.crt", self.certs_dir / f"{stem}.key")
        return context

    def _make_certificates(self, members: list[tuple[str, str]]) -> None:
        """With ``tls``: a CA and, for each (member id, host), a certificate naming both."""
        if self.tls:
            certs.init(self.certs_dir, [certs.Member(name, (host, "localhost")) for name, host in members])

    def _config_text(
        self, port: int, urls: list[str], host: str = "127.0.0.1", data_dir: Path | None = None
    ) -> str:
        timings = {**DEFAULT_TIMINGS, **self.timings}
        lines = [
            "[node]",
            f'host = "{host}"',
            f"port = {port}",
            f'data_dir = "{data_dir or self.root / f"data{port}"}"',
            *(f"{k} = {toml_value(v)}" for k, v in self.node_keys.items()),
            "[cluster]",
            f"nodes = {urls!r}".replace("'", '"'),
            *(f"{k} = {v}" for k, v in timings.items()),
            "[storage]",
            *(f"{k} = {toml_value(v)}" for k, v in self.storage.items()),
            "[api]",
            *(f"{k} = {toml_value(v)}" for k, v in self.api.items()),
            *self._tls_lines(member_ids(tuple(urls))[f"{self.scheme}://{host}:{port}"]),
        ]
        return "\n".join(lines) + "\n"

    def _tls_lines(self, member: str) -> list[str]:
        """The [tls] section of ``member``'s config: its own certificate, which certs.init named for it."""
        if not self.tls:
            return []
        stem = certs.Member(member, ()).stem
        return [
            "[tls]",
            f'cert_file = "{self.certs_dir / f"{stem}.crt"}"',
            f'key_file = "{self.certs_dir / f"{stem}.key"}"',
            f'ca_file = "{self.certs_dir / "ca.crt"}"',
        ]

    # ------------------------------------------------------------------------------------ processes

    def start(self, i: int) -> NodeProcess:
        node = self.nodes[i]
        assert not node.running, f"{node.id} is already running"
        env = {**os.environ, "TODONODE_SECRET": SECRET, "PYTHONUNBUFFERED": "1", **self.env}
        with open(node.log, "ab") as log:
            node.proc = subprocess.Popen(
                self.command(node),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.root,
            )
        return node

    def command(self, node: NodeProcess) -> list[str]:
        """The command line that runs ``node`` (a subclass may wrap it, e.g. in ``ip netns exec``; the
        wrapper must exec the interpreter, so that the PID is the node's own)."""
        config = str(node.config)
        return [self.python, "-m", "todonode.cli", "--config", config, "--log-level", self.log_level]

    def start_all(self) -> None:
        for i in range(self.size):
            self.start(i)

    def kill(self, i: int) -> None:
        """kill -9: no goodbye, no flush."""
        node = self.nodes[i]
        if node.running:
            node.proc.kill()
            node.proc.wait(timeout=10)

    def terminate(self, i: int, timeout: float = 15) -> int:
        """SIGTERM and wait for a graceful exit; returns the exit status."""
        node = self.nodes[i]
        node.proc.send_signal(signal.SIGTERM)
        return node.proc.wait(timeout=timeout)

    def pause(self, i: int) -> None:
        os.kill(self.nodes[i].proc.pid, signal.SIGSTOP)

    def resume(self, i: int) -> None:
        os.kill(self.nodes[i].proc.pid, signal.SIGCONT)

    def close(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(node.proc.pid, signal.SIGCONT)
                node.proc.kill()
                node.proc.wait(timeout=10)

    def logs(self) -> str:
        out = []
        for node in self.nodes:
            if node.log.exists():
                out.append(f"===== {node.id} =====\n" + node.log.read_text(errors="replace")[-6000:])
        return "\n".join(out)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


# ----------------------------------------------------------------------------------------- HTTP helpers


class Client:
    """A thin JSON client for tests. Network errors come back as status 0, never as exceptions."""

    def __init__(self, session: aiohttp.ClientSession, timeout: float = 5.0):
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def call(
        self,
        method: str,
        url: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        try:
            async with self.session.request(
                method,
                url,
                json=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout) if timeout else self.timeout,
            ) as resp:
                data = await resp.json(content_type=None) if resp.content_length != 0 else None
                return resp.status, data, dict(resp.headers)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return 0, {"client_error": repr(exc)}, {}

    async def status(self, node: NodeProcess) -> dict[str, Any] | None:
        code, body, _ = await self.call("GET", node.url + "/status", timeout=1)
        return body if code == 200 else None

    async def tasks(self, node: NodeProcess, **query: str) -> list[dict[str, Any]] | None:
        """Every task ``node`` holds, a page at a time (None if a page went unanswered)."""
        tasks: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = {**query, "limit": "1000", **({"cursor": str(cursor)} if cursor else {})}
            qs = "&".join(f"{k}={v}" for k, v in page.items())
            code, body, _ = await self.call("GET", f"{node.url}/tasks?{qs}", timeout=5)
            if code != 200:
                return None
            tasks += body["tasks"]
            cursor = body["next_cursor"]
            if cursor is None:
                return tasks


async def wait_for(
    probe: Callable[[], Awaitable[T | None]], timeout: float, what: str, interval: float = 0.05
) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        await asyncio.sleep(interval)


async def find_leader(client: Client, cluster: ProcessCluster, timeout: float = DEADLINE_S) -> NodeProcess:
    """The running node that says it leads, once every running node answers and follows it in its term.
    Every one, not a majority: a test that goes on to pick "a follower" must not pick a node that is
    still starting (on a loaded machine one can lag the others by a second or more)."""

    async def probe() -> NodeProcess | None:
        running = [n for n in cluster.nodes if n.running]
        statuses = await asyncio.gather(*(client.status(n) for n in running))
        leaders = [(s["term"], n) for n, s in zip(running, statuses, strict=True) if s and s["is_leader"]]
        if not leaders:
            return None
        term, leader = max(leaders, key=lambda t: t[0])
        agree = all(s and s["leader"] == leader.url and s["term"] == term for s in statuses)
        return leader if agree else None

    return await wait_for(probe, timeout, "a leader every running node follows")

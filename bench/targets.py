"""What the workloads need from a system under test, and the process handling both targets share.

A target is a local cluster of real processes on free loopback ports, each with a data directory
under one temporary root. Every process is remembered by PID and killed with SIGKILL in ``close()``,
whatever happened before; nothing is ever found or killed by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .client import HttpJson, Outcome

T = TypeVar("T")


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (held open together, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return sorted(s.getsockname()[1] for s in sockets)
    finally:
        for s in sockets:
            s.close()


async def wait_for(
    probe: Callable[[], Awaitable[T | None]], timeout: float, what: str, interval: float = 0.05
) -> T:
    """Poll ``probe`` until it returns something truthy; raise naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


@dataclass
class Member:
    index: int
    name: str
    url: str  # where clients send requests
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running and self.proc else None


class Target(ABC):
    """A local cluster under test. Subclasses say how to start a member and how to speak to it."""

    name: str

    def __init__(self, root: Path, http: HttpJson, size: int = 4) -> None:
        self.root = root
        self.http = http
        self.size = size
        self.members: list[Member] = []
        root.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------------------------ processes

    @abstractmethod
    def command(self, member: Member) -> list[str]: ...

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def spawn(self, i: int) -> Member:
        member = self.members[i]
        assert not member.running, f"{member.name} is already running"
        with open(member.log, "ab") as log:
            member.proc = subprocess.Popen(
                self.command(member),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.environment(),
                cwd=self.root,
            )
        return member

    def kill(self, i: int) -> None:
        """kill -9 by PID, and reap it."""
        member = self.members[i]
        if member.proc is not None and member.proc.poll() is None:
            os.kill(member.proc.pid, signal.SIGKILL)
            member.proc.wait(timeout=10)

    def close(self) -> None:
        for member in self.members:
            if member.proc is not None and member.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(member.proc.pid, signal.SIGCONT)
                    os.kill(member.proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    member.proc.wait(timeout=10)

    def running(self) -> list[int]:
        return [m.index for m in self.members if m.running]

    def log_tails(self, chars: int = 3000) -> str:
        out = []
        for m in self.members:
            if m.log.exists():
                out.append(f"----- {self.name} {m.name} ({m.log.name}) -----")
                out.append(m.log.read_text(errors="replace")[-chars:])
        return "\n".join(out)

    def rss_mb(self, i: int) -> float:
        pid = self.members[i].pid
        if pid is None:
            return float("nan")
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    # ------------------------------------------------------------------------------------ lifecycle

    def start_all(self) -> None:
        for i in range(self.size):
            self.spawn(i)

    @abstractmethod
    async def wait_settled(self, timeout: float = 30) -> None:
        """Until every running member answers, agrees on one leader and leadership has settled where
        this system keeps it (todonode: on its preferred node)."""

    @abstractmethod
    async def leader(self, timeout: float = 10) -> int:
        """The index of the member the running members agree leads."""

    # ------------------------------------------------------------------------------------ requests

    @abstractmethod
    async def put(self, member: int, n: int, *, keyed: bool = False, timeout: float = 30) -> Outcome:
        """Write number ``n`` (unique in the run) sent to ``member``; ``keyed``: a retry-safe write if
        the system has such a thing."""

    @abstractmethod
    async def visible(self, member: int, key: str) -> bool:
        """Whether ``member`` serves the write ``key`` from its own state (no round trip to a leader)."""

    @abstractmethod
    def wrk_request(self, mode: str, key: str, local: bool) -> tuple[str, list[str]]:
        """The Lua script (in bench/wrk/) and its arguments for a wrk load (bench/load_generator.py):
        ``mode`` "write", "read" (of the write ``key``) or "mix" (nine reads to a write); ``local``:
        reads answered from the member's own state, else linearizable ones."""

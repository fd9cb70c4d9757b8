"""The supervisor of scripts/cluster.py: it starts the nodes, passes their output on, signals them, and
takes them with it however it ends (see cluster.py for why and how).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

STOP_TIMEOUT_S = 15.0
LINE_LIMIT = 1 << 20  # the longest log line passed through whole

# Run in each child before it becomes the node (see cluster.py). argv: the supervisor's PID,
# then the node's command line.
EXEC_WITH_PARENT = """
import ctypes, os, signal, sys
PR_SET_PDEATHSIG = 1
if sys.platform.startswith("linux"):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        sys.exit(f"cannot tie the node to its supervisor: prctl failed with errno {ctypes.get_errno()}")
if os.getppid() != int(sys.argv[1]):
    sys.exit("the supervisor is gone; not starting the node")
os.execv(sys.argv[2], sys.argv[2:])
"""

# What a node's process is doing, as the supervisor knows it.
RUNNING, PAUSED, DOWN, RESTARTING = "running", "paused", "down", "restarting"


@dataclass
class Child:
    id: str
    url: str
    config: Path
    pid_file: Path
    prefix: str
    proc: asyncio.subprocess.Process | None = None
    process: str = DOWN
    isolated: bool = False  # demo mode: cut off from its peers
    disk_delay_ms: int = 0  # demo mode: the wait before each fsync
    exited: asyncio.Event = field(default_factory=asyncio.Event)  # set when the current process ends

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.process != DOWN else None

    def faults_line(self) -> bytes:
        isolated = "true" if self.isolated else "false"
        return f'{{"isolated": {isolated}, "disk_delay_ms": {self.disk_delay_ms}}}\n'.encode()


class Supervisor:
    """Starts the nodes, passes their output on, signals them, and stops them with itself."""

    def __init__(self, children: list[Child], *, demo: bool) -> None:
        self.children = {child.id: child for child in children}
        self.demo = demo
        self.on_change: Callable[[], None] = lambda: None  # the state of some node changed
        self._todonode = str(Path(sys.executable).with_name("todonode"))
        self._pumps: set[asyncio.Task[None]] = set()

    # ========================================================================================= starting

    async def start(self, child: Child) -> None:
        child.exited = asyncio.Event()
        child.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            EXEC_WITH_PARENT,
            str(os.getpid()),
            self._todonode,
            "--config",
            str(child.config),
            stdin=asyncio.subprocess.PIPE if self.demo else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops the nodes in order
            limit=LINE_LIMIT,
        )
        if self.demo:
            self._send_faults(child)  # in the pipe before the node reads it: applied before it runs
        child.process = RESTARTING if self.demo else RUNNING
        child.pid_file.parent.mkdir(parents=True, exist_ok=True)
        child.pid_file.write_text(f"{child.proc.pid}\n")
        pump = asyncio.create_task(self._pump(child, child.proc))
        self._pumps.add(pump)
        pump.add_done_callback(self._pumps.discard)
        self.on_change()

    async def _pump(self, child: Child, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            sys.stdout.write(f"{child.prefix} {line.decode(errors='replace')}")
            sys.stdout.flush()
        status = await proc.wait()
        if proc is not child.proc:
            return  # a process already replaced by a restart
        expected = child.process == DOWN
        child.process = DOWN
        with contextlib.suppress(FileNotFoundError):
            child.pid_file.unlink()
        child.exited.set()
        if not expected:
            say(f"*** {child.id} exited with status {status}; the others keep running")
        self.on_change()

    # ========================================================================================= signals

    def kill(self, child: Child) -> None:
        """kill -9 (a paused process too)."""
        child.process = DOWN
        if child.proc is not None and child.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.proc.kill()

    def pause(self, child: Child) -> None:
        assert child.proc is not None
        os.kill(child.proc.pid, signal.SIGSTOP)
        child.process = PAUSED

    def resume(self, child: Child) -> None:
        assert child.proc is not None
        os.kill(child.proc.pid, signal.SIGCONT)
        child.process = RUNNING

    async def restart(self, child: Child) -> None:
        if child.process != DOWN:
            self.kill(child)
        if child.proc is not None and child.proc.returncode is None:
            await child.exited.wait()
        await self.start(child)

    def set_faults(self, child: Child, *, isolated: bool, disk_delay_ms: int) -> None:
        child.isolated, child.disk_delay_ms = isolated, disk_delay_ms
        if child.process != DOWN:
            self._send_faults(child)

    def _send_faults(self, child: Child) -> None:
        stdin = child.proc.stdin if child.proc is not None else None
        if stdin is not None and not stdin.is_closing():
            with contextlib.suppress(ConnectionError):
                stdin.write(child.faults_line())  # a few bytes: the pipe takes them at once

    def reported(self, node: str, pid: int) -> None:
        """A node reported (demo mode): a restarted one is up."""
        child = self.children.get(node)
        if child is not None and child.process == RESTARTING and child.pid == pid:
            child.process = RUNNING
            self.on_change()

    # ======================================================================================= stopping

    async def stop_all(self) -> None:
        """SIGTERM every node (a paused one is resumed to take it) and wait; kill -9 what outlives that."""
        alive = [c for c in self.children.values() if c.proc is not None and c.proc.returncode is None]
        for child in alive:
            assert child.proc is not None
            child.process = DOWN
            with contextlib.suppress(ProcessLookupError):
                child.proc.terminate()
                os.kill(child.proc.pid, signal.SIGCONT)
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await asyncio.gather(*(c.exited.wait() for c in alive))
        except TimeoutError:
            for child in alive:
                self.kill(child)
            await asyncio.gather(*(c.exited.wait() for c in alive))
        await asyncio.gather(*self._pumps, return_exceptions=True)

    def all_down(self) -> bool:
        return all(child.process == DOWN for child in self.children.values())


def say(text: str) -> None:
    print(text, flush=True)

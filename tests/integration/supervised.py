"""scripts/cluster.py run by a test: the supervisor of `make cluster` and `make demo`, over a
ProcessCluster's configs (free ports, temporary directories), and the helpers that read what it did.
Every process it started is killed by PID in ``close()``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.e2e.conftest import http, wait_until

from .harness import SECRET, ProcessCluster

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "cluster.py"
JSON = {"Content-Type": "application/json"}


def process_state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` (R, S, T for stopped, Z...); None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None
    return next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))


def gone(pid: int) -> bool:
    """Dead: no such process, or a zombie waiting for whoever adopted it to reap it."""
    return process_state(pid) in (None, "Z")


class Supervised:
    """scripts/cluster.py running nodes of a ProcessCluster's configs (free ports, temporary dirs)."""

    def __init__(
        self, root: Path, size: int, *, demo: bool, timings: dict[str, int] | None = None, slow: int = 1
    ) -> None:
        # The cluster writes the configs; its own start() is never used.
        self.cluster = ProcessCluster(root, size, timings=timings or {})
        self.demo = demo
        self.demo_dir = root / "demo"
        args = [sys.executable, str(SCRIPT), *(str(n.config) for n in self.cluster.nodes)]
        if demo:
            args[2:2] = ["--demo", "--demo-dir", str(self.demo_dir), "--slow", str(slow)]
        self.log = root / "supervisor.log"
        env = {**os.environ, "TODONODE_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
        # Next to each node's data directory: the harness's data<port>, or the demo's own node<port>.
        data_dirs = [self.demo_dir / n.id if demo else root / f"data{n.port}" for n in self.cluster.nodes]
        self.pid_files = [d.with_name(f"{d.name}.pid") for d in data_dirs]
        self.node_pids: set[int] = set()

    def pid(self, i: int) -> int | None:
        try:
            pid = int(self.pid_files[i].read_text())
        except (FileNotFoundError, ValueError):
            return None
        self.node_pids.add(pid)
        return pid

    def url(self, i: int) -> str:
        return self.cluster.nodes[i].url

    def wait_running(self) -> list[int]:
        def up() -> list[int] | None:
            pids = [self.pid(i) for i in range(self.cluster.size)]
            answers = [http("GET", f"{self.url(i)}/health", timeout=3)[0] for i in range(len(pids))]
            if None in pids or answers != [200] * len(pids):
                return None
            if self.demo and not all(n["process"] == "running" for n in demo_state(self, 0).values()):
                return None  # each node is "restarting" until its first report reaches the supervisor
            return [p for p in pids if p is not None]

        return wait_until(up, 60, "every node running")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        for pid in {self.proc.pid, *self.node_pids}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


def demo_state(s: Supervised, via: int) -> dict[str, Any]:
    status, state, _ = http("GET", f"{s.url(via)}/demo")
    assert status == 200, state
    return {n["id"]: n for n in state["nodes"]}


def act(s: Supervised, via: int, node: int, action: str) -> dict[str, Any]:
    """Ask node ``via`` to do ``action`` to node ``node``; the state it answers, by node id."""
    status, state, _ = http(
        "POST", f"{s.url(via)}/demo/nodes/{s.cluster.nodes[node].id}/{action}", {}, timeout=15
    )
    assert status == 200, state
    return {n["id"]: n for n in state["nodes"]}


def status_of(s: Supervised, i: int) -> dict[str, Any] | None:
    code, body, _ = http("GET", f"{s.url(i)}/status", timeout=3)
    return body if code == 200 else None


def leader_of(s: Supervised, *, preferred: bool = False, not_: int | None = None, timeout: float = 30) -> int:
    """The index of the node a majority of the running nodes agrees leads, every running node ready;
    with ``preferred``, once that is the lowest-port node (index 0), where leadership settles when
    every node runs; with ``not_``, once it is another node than that one (a fault just sent to a
    leader may not have landed yet)."""
    size = s.cluster.size

    def probe() -> list[int] | None:
        statuses = [status_of(s, i) for i in range(size)]
        running = [i for i, st in enumerate(statuses) if st]
        leaders = [i for i in running if statuses[i]["is_leader"]]
        if len(leaders) != 1 or (preferred and leaders[0] != 0) or leaders[0] == not_:
            return None
        agree = sum(1 for i in running if statuses[i]["leader_id"] == s.cluster.nodes[leaders[0]].id)
        ready = all(http("GET", f"{s.url(i)}/ready", timeout=2)[0] == 200 for i in running)
        return leaders if agree * 2 > size and ready else None

    return wait_until(probe, timeout, "a leader the nodes agree on")[0]

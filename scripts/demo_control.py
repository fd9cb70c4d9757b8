"""The classroom cluster of `make demo`: the supervisor's demo side (scripts/cluster.py runs it).

- ``write_configs``: one config per node in ``data/demo/``, made from ``configs/``: the same members,
  data directories of their own, every timing (tick, heartbeat, election timeout, leader settle, write
  wait) multiplied by ``--slow``, and a ``[demo]`` section naming the control socket.
- ``Control``: an HTTP server on that Unix socket, for the nodes only (the socket is a file of this user's;
  the page reaches it through any node's demo routes, src/todonode/api/demo.py):

  - ``GET /state``: each node's process (running, paused, down, restarting), cut-off and disk delay;
  - ``POST /nodes/{node}/{action}``: stop, pause, resume, restart, isolate, heal, slow-disk,
    normal-disk; answers the new state, or 409 ``refused`` (stopping or pausing the last node that
    answers would leave the page nothing to talk to);
  - ``POST /report``: every node, every ``demo.report_ms``: the messages it sent, its role changes and
    vote decisions (src/todonode/node/demo.py);
  - ``GET /events``: Server-Sent Events for the pages: ``state`` first and on every change, then every
    node's ``report`` as it comes; a new page first gets the recent reports that told of elections, so
    it can tell the last one.

Signals do what a process can be made to do (stop, pause, resume, restart); the node itself does what
only it can (cut itself off, slow its disk), told through its standard input (Supervisor.set_faults).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket as sockets
import tempfile
import tomllib
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from supervisor import DOWN, PAUSED, RESTARTING, RUNNING, Child, Supervisor, say

from todonode.config import load_config

TIMINGS = ("tick_ms", "heartbeat_ms", "election_timeout_ms", "leader_settle_ms", "write_wait_ms")
SLOW_DISK_MS = 200  # before each fsync; times --slow
SOCKET_NAME = "supervisor.sock"
MAX_SOCKET_PATH = 100  # Linux allows 107 bytes; a longer path goes to a short temporary directory
KEEPALIVE_S = 5.0
SUBSCRIBER_QUEUE = 2000  # frames waiting for one page; a page further behind is dropped, and reconnects
ELECTION_BACKLOG = 200  # reports with role changes or votes, kept for pages that connect later
ANSWERING = (RUNNING, RESTARTING)


# =========================================================================================== configs


def write_configs(configs: list[Path], directory: Path, slow: int) -> tuple[list[Path], Path]:
    """The demo's config for each of ``configs``, in ``directory``; returns their paths, and the
    control socket they name."""
    directory = directory.absolute()
    directory.mkdir(parents=True, exist_ok=True)
    socket = _socket_path(directory)
    written = []
    for path in configs:
        config = load_config(path)  # checked as the node will check it; relative paths resolved
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        cluster = {k: v for k, v in raw["cluster"].items() if k not in TIMINGS}
        cluster |= {timing: getattr(config.cluster, timing) * slow for timing in TIMINGS}
        api = dict(raw.get("api", {}))
        for section, key in ((cluster, "secret_file"), (api, "token_file")):
            if key in section:
                section[key] = str((path.parent / section[key]).absolute())
        sections = {
            "node": {**raw["node"], "data_dir": str(directory / config.node.id.replace(":", "-"))},
            "cluster": cluster,
            "storage": raw.get("storage", {}),
            "api": api,
            "demo": {"supervisor": str(socket)},
        }
        target = directory / f"{config.node.id}.toml"
        header = f"# Written by `make demo` from {path} (every timing x{slow}); edit that file instead.\n"
        target.write_text(header + "".join(_toml_table(name, table) for name, table in sections.items()))
        written.append(target)
    return written, socket


def _toml_table(name: str, table: dict[str, Any]) -> str:
    return f"\n[{name}]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in table.items())


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's string escapes are TOML's
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    raise TypeError(f"no TOML for {value!r} in a demo config")


def _socket_path(directory: Path) -> Path:
    path = directory / SOCKET_NAME
    if len(str(path)) > MAX_SOCKET_PATH:
        path = Path(tempfile.mkdtemp(prefix="todonode-demo-")) / SOCKET_NAME
    return path


def _in_use(path: Path) -> bool:
    """Another demo supervisor answers on ``path``."""
    with sockets.socket(sockets.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


# ========================================================================================== control


class Control:
    def __init__(self, supervisor: Supervisor, slow: int, socket: Path) -> None:
        self.supervisor = supervisor
        self.slow = slow
        self.socket = socket
        self._subscribers: set[asyncio.Queue[bytes | None]] = set()
        self._elections: deque[bytes] = deque(maxlen=ELECTION_BACKLOG)
        self._runner: web.AppRunner | None = None

    def state(self) -> dict[str, Any]:
        return {
            "slow": self.slow,
            "slow_disk_ms": SLOW_DISK_MS * self.slow,
            "nodes": [
                {
                    "id": c.id,
                    "url": c.url,
                    "process": c.process,
                    "isolated": c.isolated,
                    "disk_delay_ms": c.disk_delay_ms,
                    "pid": c.pid,
                }
                for c in self.supervisor.children.values()
            ],
        }

    def state_changed(self) -> None:
        self._publish(_frame("state", self.state()))

    def banner(self) -> str:
        speed = f"every timing x{self.slow} (slow motion)" if self.slow > 1 else "at normal speed"
        return (
            f"demo mode, {speed}: each node card on the page has buttons to stop, pause, restart or cut off "
            f"its node (or POST /demo/nodes/<node>/<action> to any node); control socket {self.socket}"
        )

    # -------------------------------------------------------------------------------------- actions

    async def act(self, node: str, action: str) -> tuple[int, dict[str, Any]]:
        child = self.supervisor.children.get(node)
        do = self._actions().get(action)
        if child is None or do is None:
            return 404, _error("not_found", f"no node {node!r} or no action {action!r}")
        problem = self._refusal(child, action)
        if problem:
            return 409, _error("refused", problem)
        said = await do(child)
        say(f"demo: {node}: {said}")
        self.state_changed()
        return 200, self.state()

    def _actions(self) -> dict[str, Callable[[Child], Any]]:
        s = self.supervisor
        slow_disk = SLOW_DISK_MS * self.slow

        async def stop(child: Child) -> str:
            s.kill(child)
            await child.exited.wait()
            return "stopped (kill -9)"

        async def pause(child: Child) -> str:
            s.pause(child)
            return "paused (SIGSTOP)"

        async def resume(child: Child) -> str:
            s.resume(child)
            return "resumed (SIGCONT)"

        async def restart(child: Child) -> str:
            await s.restart(child)
            return f"restarted (pid {child.pid})"

        def faults(isolated: bool | None, disk: int | None, said: str) -> Callable[[Child], Any]:
            async def apply(child: Child) -> str:
                s.set_faults(
                    child,
                    isolated=child.isolated if isolated is None else isolated,
                    disk_delay_ms=child.disk_delay_ms if disk is None else disk,
                )
                return said

            return apply

        return {
            "stop": stop,
            "pause": pause,
            "resume": resume,
            "restart": restart,
            "isolate": faults(True, None, "cut off from its peers"),
            "heal": faults(False, None, "in touch with its peers again"),
            "slow-disk": faults(None, slow_disk, f"slow disk: {slow_disk} ms before each fsync"),
            "normal-disk": faults(None, 0, "disk back to normal"),
        }

    def _refusal(self, child: Child, action: str) -> str | None:
        process = child.process
        if action in ("stop", "pause") and process == DOWN:
            return f"{child.id} is already down"
        if action == "pause" and process != RUNNING:
            return f"{child.id} is {process}; only a running node can be paused"
        if action == "resume" and process != PAUSED:
            return f"{child.id} is {process}, not paused"
        if action in ("stop", "pause") and process in ANSWERING:
            children = self.supervisor.children.values()
            if not any(c is not child and c.process in ANSWERING for c in children):
                return (
                    f"{child.id} is the last node that answers: the page and these controls need one. "
                    "Restart or resume another node first"
                )
        return None

    # ------------------------------------------------------------------------------------ the server

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/state", self._get_state)
        app.router.add_post("/nodes/{node}/{action}", self._post_action)
        app.router.add_post("/report", self._post_report)
        app.router.add_get("/events", self._get_events)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        if self.socket.exists():
            if _in_use(self.socket):
                raise SystemExit(f"another demo supervisor answers on {self.socket}: is `make demo` running?")
            self.socket.unlink()  # left by a supervisor that was killed
        await web.UnixSite(self._runner, str(self.socket), shutdown_timeout=1.0).start()
        self.socket.chmod(0o600)

    async def close(self) -> None:
        for queue in self._subscribers:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)  # ends the stream
        if self._runner is not None:
            await self._runner.cleanup()
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()

    async def _get_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _post_action(self, request: web.Request) -> web.Response:
        status, body = await self.act(request.match_info["node"], request.match_info["action"])
        return web.json_response(body, status=status)

    async def _post_report(self, request: web.Request) -> web.Response:
        report = await request.json()
        self.supervisor.reported(str(report.get("node")), int(report.get("pid") or 0))
        self._publish(_frame("report", report))
        if report.get("events"):
            self._elections.append(_frame("report", {**report, "traffic": []}))
        return web.Response(status=204)

    async def _get_events(self, request: web.Request) -> web.StreamResponse:
        headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE)
        self._subscribers.add(queue)
        try:
            await response.write(b"retry: 1000\n\n" + _frame("state", self.state()))
            await response.write(b"".join(self._elections))
            while True:
                try:
                    frame = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    frame = b": keep-alive\n\n"
                if frame is None:
                    break
                await response.write(frame)
        except ConnectionResetError:
            pass  # the node relaying it, or its page, went away
        finally:
            self._subscribers.discard(queue)
        return response

    def _publish(self, frame: bytes) -> None:
        for queue in [*self._subscribers]:
            try:
                queue.put_nowait(frame)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)  # too far behind: its stream ends, the page reconnects
                queue.get_nowait()
                queue.put_nowait(None)


def _frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _error(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}

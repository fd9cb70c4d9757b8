"""Demo mode (config ``[demo]``, written by ``scripts/cluster.py --demo``): the node's side of the
classroom cluster. Nothing here runs outside demo mode.

Two duties:

- follow the faults the supervisor asks of this node, one JSON line per change on standard input,
  ``{"isolated": true, "disk_delay_ms": 200}``: cut the node off from its peers (the transport drops
  its peer traffic both ways) or slow its disk (a wait before each fsync of the log). Each line is
  the whole set. The supervisor writes a node's set into the pipe before the node runs, and the node
  applies it before it opens a stream to any peer (``follow_faults``), so a node restarted while cut
  off never exchanges a message with its peers. Without such a pipe (a demo config run by hand) no
  fault is injected.
- report, every ``demo.report_ms``, what the node did: the messages it sent (counted per peer, kind and
  fate, see traffic.py) and its ``cluster`` events (role changes, vote decisions and peers coming and
  going, see role_changes.py), to the supervisor's control socket. The supervisor passes the reports
  of every node on to the pages, which draw the messages and tell the elections. A report also tells
  the supervisor the node is up (after a restart).

Stopping, pausing and restarting are the supervisor's to do, with signals: a node cannot resume itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from typing import Any

import aiohttp
import orjson

from ..config import DemoSection
from ..events import EventHub
from ..traffic import Traffic
from ..transport import PeerTransport
from .disk import Disk

log = logging.getLogger("todonode.demo")

# The supervisor's control API, over its Unix socket (the host name is never resolved). Nodes report
# to /report; the API's demo routes (api/demo.py) read /state and /events and act through
# /nodes/{node}/{action}.
SUPERVISOR_URL = "http://supervisor"
ACTIONS = ("stop", "pause", "resume", "restart", "isolate", "heal", "slow-disk", "normal-disk")
REPORT_TIMEOUT_S = 1.0
REPORTED_EVENTS = frozenset({"role", "vote", "peer"})
FAULTS_FD = 0  # standard input
FIRST_FAULTS_WAIT_S = 2.0  # the supervisor writes them before the node starts: they are there at once


class DemoLink:
    def __init__(
        self, node_id: str, demo: DemoSection, events: EventHub, transport: PeerTransport, disk: Disk
    ) -> None:
        assert demo.supervisor is not None, "a demo link exists in demo mode only"
        self._id = node_id
        self._socket = demo.supervisor
        self._interval_s = demo.report_ms / 1000
        self._events = events
        self._transport = transport
        self._disk = disk
        self._traffic = transport.traffic = Traffic()
        self._pipe: asyncio.ReadTransport | None = None

    async def follow_faults(self) -> asyncio.Task[None]:
        """Apply the faults already in the pipe, then follow the pipe: the task that does, until
        cancelled. Call it before the transport starts."""
        reader = await self._open_fault_pipe()
        if reader is not None:
            try:
                first = await asyncio.wait_for(reader.readline(), FIRST_FAULTS_WAIT_S)
            except TimeoutError:
                first = b""
                log.warning("demo: no faults from the supervisor yet; starting without")
            self._take(first)
        return asyncio.create_task(self._follow(reader))

    async def run(self) -> None:
        """Report until cancelled (the node owns this task and cancels it when it stops)."""
        await self._report_forever()

    # ========================================================================================== faults

    async def _open_fault_pipe(self) -> asyncio.StreamReader | None:
        if not stat.S_ISFIFO(os.fstat(FAULTS_FD).st_mode):
            log.warning("demo: standard input is not the supervisor's pipe; no fault will be injected")
            return None
        reader = asyncio.StreamReader()
        pipe = open(FAULTS_FD, "rb", buffering=0, closefd=False)  # noqa: SIM115 -- the transport closes it
        loop = asyncio.get_running_loop()
        self._pipe, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
        return reader

    async def _follow(self, reader: asyncio.StreamReader | None) -> None:
        try:
            while reader is not None and (line := await reader.readline()):
                self._take(line)
        finally:
            if self._pipe is not None:
                self._pipe.close()

    def _take(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            faults = orjson.loads(line)
            self.apply(bool(faults["isolated"]), int(faults["disk_delay_ms"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            log.warning("demo: ignored a fault line that cannot be read: %s", exc)

    def apply(self, isolated: bool, disk_delay_ms: int) -> None:
        if isolated != self._transport.isolated:
            self._transport.cut_off(isolated)
            log.warning("demo: %s", "cut off from every peer" if isolated else "in touch with peers again")
        delay_s = max(0, disk_delay_ms) / 1000
        if delay_s != self._disk.fsync_delay_s:
            self._disk.fsync_delay_s = delay_s
            if delay_s:
                log.warning("demo: slow disk, %d ms before each fsync", disk_delay_ms)
            else:
                log.warning("demo: the disk is back to normal speed")

    # ========================================================================================= reports

    async def _report_forever(self) -> None:
        sub, _ = self._events.subscribe(None)
        connector = aiohttp.UnixConnector(path=str(self._socket))
        timeout = aiohttp.ClientTimeout(total=REPORT_TIMEOUT_S)
        failing = False
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                while True:
                    await asyncio.sleep(self._interval_s)
                    events = [
                        e.data
                        for e in _drain(sub.queue)
                        if e.kind == "cluster" and e.data.get("type") in REPORTED_EVENTS
                    ]
                    try:
                        await self._send(session, self._report(events))
                        failing = False
                    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                        if not failing:
                            log.warning("demo: cannot report to the supervisor at %s: %s", self._socket, exc)
                        failing = True
        finally:
            self._events.unsubscribe(sub)

    def _report(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "node": self._id,
            "pid": os.getpid(),
            "at": round(time.time() * 1000),
            "traffic": self._traffic.drain(),
            "events": events,
        }

    @staticmethod
    async def _send(session: aiohttp.ClientSession, report: dict[str, Any]) -> None:
        body, headers = orjson.dumps(report), {"Content-Type": "application/json"}
        async with session.post(f"{SUPERVISOR_URL}/report", data=body, headers=headers) as resp:
            resp.raise_for_status()


def _drain(queue: asyncio.Queue[Any]) -> list[Any]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items

"""A node in demo mode: it takes the faults the supervisor asks for, and reports what it sent and what
happened to it to the supervisor's control socket."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from todonode.config import DemoSection, StorageSection
from todonode.events import Event, EventHub
from todonode.node import demo as demo_module
from todonode.node.demo import DemoLink
from todonode.node.disk import Disk
from todonode.raft import Heartbeat

from .test_traffic import transport


def link(tmp_path: Path, hub: EventHub, socket: Path) -> tuple[DemoLink, Any, Disk]:
    t = transport()
    disk = Disk("n1", tmp_path / "data", StorageSection())
    demo = DemoLink("n1", DemoSection(supervisor=socket, report_ms=20), hub, t, disk)
    return demo, t, disk


def test_faults_cut_the_node_off_and_slow_its_disk(tmp_path: Path) -> None:
    demo, t, disk = link(tmp_path, EventHub(), tmp_path / "s.sock")
    demo.apply(True, 250)
    assert t.isolated and disk.fsync_delay_s == 0.25
    demo.apply(False, 0)
    assert not t.isolated and disk.fsync_delay_s == 0


async def test_the_faults_in_the_pipe_are_applied_before_follow_faults_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_end, write_end = os.pipe()
    monkeypatch.setattr(demo_module, "FAULTS_FD", read_end)
    demo, t, disk = link(tmp_path, EventHub(), tmp_path / "s.sock")
    os.write(write_end, b'{"isolated": true, "disk_delay_ms": 0}\n')
    following = await demo.follow_faults()
    try:
        assert t.isolated  # before any stream to a peer could open
        os.write(write_end, b'not json\n{"isolated": false, "disk_delay_ms": 40}\n')
        async with asyncio.timeout(5):
            while t.isolated or disk.fsync_delay_s != 0.04:
                await asyncio.sleep(0.01)
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
        os.close(write_end)
        os.close(read_end)


async def test_reports_carry_the_traffic_and_the_cluster_events(tmp_path: Path) -> None:
    reports: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        await reports.put(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/report", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    socket = tmp_path / "s.sock"
    await web.UnixSite(runner, str(socket)).start()
    hub = EventHub()
    demo, t, _ = link(tmp_path, hub, socket)
    following = await demo.follow_faults()  # pytest's standard input is no pipe: nothing to follow
    running = asyncio.create_task(demo.run())
    try:
        await asyncio.sleep(0)  # the reporter subscribes before anything is published
        t.send([Heartbeat(term=1, src="n1", dst="n2", round=1)])
        hub.publish(Event("cluster", {"type": "role", "node": "n1", "role": "leader"}))
        hub.publish(Event("task", {"type": "created"}, 7))  # task changes are not the demo's to report
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(5):
            while not (any(r["traffic"] for r in seen) and any(r["events"] for r in seen)):
                seen.append(await reports.get())
    finally:
        running.cancel()
        await asyncio.gather(running, following, return_exceptions=True)
        await runner.cleanup()
    assert {r["node"] for r in seen} == {"n1"}
    assert [row["kind"] for r in seen for row in r["traffic"]] == ["heartbeat"]
    assert [e["type"] for r in seen for e in r["events"]] == ["role"]

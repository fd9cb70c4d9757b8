"""The Ready loop's order on a leader (node/ready_loop.py): the appends reach the wire before the
leader's own log write starts, even when that write runs on the event loop (node/disk.py), so the
followers' fsyncs overlap the leader's instead of following it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from todonode.node.ready_loop import ReadyLoop
from todonode.raft import AppendEntries, Entry, HardState, Ready


class OneReadyCore:
    def __init__(self, rd: Ready) -> None:
        self.rd: Ready | None = rd
        self.advanced = asyncio.Event()
        self.votes_granted: set[str] = set()

    def has_ready(self) -> bool:
        return self.rd is not None

    def ready(self) -> Ready:
        assert self.rd is not None
        return self.rd

    def advance(self, rd: Ready) -> None:
        self.rd = None
        self.advanced.set()


class SenderTransport:
    """Like PeerTransport: ``send`` only queues; a sender puts the frame on the wire a turn later."""

    def __init__(self, happened: list[str]) -> None:
        self.happened = happened

    def send(self, messages: Any) -> None:
        asyncio.get_running_loop().call_soon(self.happened.append, "appends on the wire")


class InlineDisk:
    """A fast disk: Disk.write_log runs the write right away, on the event loop."""

    def __init__(self, happened: list[str]) -> None:
        self.happened = happened
        self.error = None
        self.wal = self

    async def write_log(self, fn: Callable[[], Any]) -> Any:
        return fn()

    def append(self, hard_state: Any, entries: Any) -> None:
        self.happened.append("own log write")

    def sync_log(self) -> float:
        return 0.0


class Nothing:
    """Every collaborator the round does not exercise here: each call does nothing."""

    def __getattr__(self, name: str) -> Any:
        async def follow() -> None:
            return None

        if name == "follow":
            return follow
        if name == "deliverable":  # every message may go to every peer
            return lambda messages: messages
        return lambda *args, **kwargs: False


async def test_a_leader_puts_its_appends_on_the_wire_before_its_own_log_write() -> None:
    happened: list[str] = []
    entry = Entry(term=1, index=1, data=b"{}")
    rd = Ready(
        hard_state=HardState(term=1, vote="n1"),
        entries=(entry,),
        messages=(AppendEntries(src="n1", dst="n2", term=1, entries=(entry,)),),
        must_sync=True,
        send_before_persisting=True,
    )
    core = OneReadyCore(rd)
    nothing: Any = Nothing()
    loop = ReadyLoop(
        core=core,  # type: ignore[arg-type]
        disk=InlineDisk(happened),  # type: ignore[arg-type]
        transport=SenderTransport(happened),  # type: ignore[arg-type]
        applied=nothing,
        events=nothing,
        role_changes=nothing,
        proposals=nothing,
        reads=nothing,
        applied_waiters=nothing,
        snapshot_policy=nothing,
        versioning=nothing,
        identity=nothing,
        members=nothing,
        observer=nothing,
        inbox=nothing,
    )
    running = asyncio.create_task(loop.run())
    loop.wake()
    try:
        async with asyncio.timeout(5):
            await core.advanced.wait()
    finally:
        running.cancel()
    assert happened == ["appends on the wire", "own log write"]

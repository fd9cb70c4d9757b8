"""Where the node's log writes run (node/disk.py): on the event loop while the disk is fast and its
thread idle, on the disk thread otherwise, and always in the order they were asked for."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from todonode.config import StorageSection
from todonode.node.disk import INLINE_FSYNC_MAX_S, Disk
from todonode.versions import STORAGE_FORMAT


@pytest.fixture
async def disk(tmp_path: Path) -> AsyncIterator[Disk]:
    d = Disk("n1", tmp_path / "data", StorageSection(fsync=False))
    d.lock()
    await d.open_wal(STORAGE_FORMAT)
    yield d
    await d.close()


def where() -> str:
    return threading.current_thread().name


async def test_a_fast_disk_writes_on_the_event_loop(disk: Disk) -> None:
    assert await disk.write_log(where) == threading.current_thread().name


async def test_a_slow_fsync_sends_the_next_writes_to_the_disk_thread_until_one_is_fast(disk: Disk) -> None:
    disk.last_fsync_s = 2 * INLINE_FSYNC_MAX_S
    assert (await disk.write_log(where)).startswith("n1-disk")
    await disk.write_log(disk.sync_log)  # fsync off: as fast as it gets, measured on the thread
    assert disk.last_fsync_s < INLINE_FSYNC_MAX_S
    assert await disk.write_log(where) == threading.current_thread().name


async def test_the_demos_slow_disk_never_blocks_the_event_loop(disk: Disk) -> None:
    disk.fsync_delay_s = 0.001
    assert (await disk.write_log(where)).startswith("n1-disk")


async def test_a_write_waits_behind_what_the_disk_thread_has_queued(disk: Disk) -> None:
    release = threading.Event()
    order: list[str] = []

    def queued_first() -> None:
        release.wait(5)
        order.append("queued")

    disk.submit(queued_first)
    writing = asyncio.create_task(disk.write_log(lambda: order.append("write") or where()))
    await asyncio.sleep(0)
    assert order == []  # not run ahead of the queued job
    release.set()
    async with asyncio.timeout(5):
        thread = await writing
    assert order == ["queued", "write"] and thread.startswith("n1-disk")

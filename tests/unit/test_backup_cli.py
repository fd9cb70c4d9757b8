"""``todonode backup`` against a stand-in node that misbehaves: a download that breaks off, or one whose
bytes do not verify, leaves neither the file nor its temporary file, and says so in one line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web

from todonode import backup_cli
from todonode.raft.messages import ClusterConfig, SnapshotMeta
from todonode.storage import backup_file
from todonode.storage.backup_file import BackupHeader, backup_pieces
from todonode.versions import STORAGE_FORMAT

from ..integration.harness import free_port

HEADER = BackupHeader("c1", 9, 2, STORAGE_FORMAT, "0.2.0", 1, "2026-12-01T00:00:00Z")
STATE = {"tasks": {"t1": {"id": "t1", "title": "milk"}}, "idempotency": {}, "meta": {}}


def good_backup() -> bytes:
    return b"".join(backup_pieces(HEADER, SnapshotMeta(9, 2, ClusterConfig(("node1",))), STATE))


async def broken_off(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": backup_file.MEDIA_TYPE})
    await response.prepare(request)
    await response.write(good_backup()[:40])
    assert request.transport is not None
    request.transport.abort()  # the node went away mid-stream
    return response


async def damaged(request: web.Request) -> web.Response:
    data = bytearray(good_backup())
    data[data.index(b"milk")] ^= 0x01
    return web.Response(body=bytes(data), content_type=backup_file.MEDIA_TYPE)


async def whole(request: web.Request) -> web.Response:
    return web.Response(body=good_backup(), content_type=backup_file.MEDIA_TYPE)


@pytest.fixture
async def node() -> AsyncIterator[Callable[..., str]]:
    runners: list[web.AppRunner] = []

    async def serve(handler) -> str:
        app = web.Application()
        app.router.add_get("/backup", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    yield serve
    for runner in runners:
        await runner.cleanup()


async def backup(url: str, out: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TODONODE_")}
    command = [sys.executable, "-m", "todonode.cli", "backup", "--url", url, "--out", str(out)]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=60
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("todonode: "), result.stderr
    return lines[0]


async def test_a_download_that_breaks_off_leaves_no_file(node, tmp_path: Path) -> None:
    url = await node(broken_off)
    out = tmp_path / "cut.backup"
    error = one_line_error(await backup(url, out))
    assert f"the download from {url} broke off after" in error and f"{out} was not written" in error
    assert list(tmp_path.iterdir()) == []


async def test_a_download_that_does_not_verify_leaves_no_file(node, tmp_path: Path) -> None:
    url = await node(damaged)
    out = tmp_path / "damaged.backup"
    error = one_line_error(await backup(url, out))
    assert "does not verify" in error and "SHA-256 does not match" in error
    assert list(tmp_path.iterdir()) == []


async def test_a_whole_download_is_verified_and_summed_up(node, tmp_path: Path) -> None:
    url = await node(whole)
    out = tmp_path / "whole.backup"
    result = await backup(url, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {out}: 1 task at index 9 of cluster c1")
    assert result.stderr == ""  # not a terminal: no progress line
    assert out.read_bytes() == good_backup()


def test_the_command_asks_for_the_media_type_the_node_serves() -> None:
    assert backup_cli.MEDIA_TYPE == backup_file.MEDIA_TYPE

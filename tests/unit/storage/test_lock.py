"""A data directory belongs to one process at a time, checked with real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import todonode
from todonode.storage import DataDirLock, DataDirLocked

# Locks the directory given as argv[1] and holds it until stdin closes; exit 3 if refused.
CHILD = """
import sys
from todonode.storage import DataDirLock, DataDirLocked
lock = DataDirLock(sys.argv[1])
try:
    lock.acquire()
except DataDirLocked as exc:
    print(exc)
    sys.exit(3)
print("locked", flush=True)
sys.stdin.read()
lock.release()
"""


def child(directory: Path, **kwargs: object) -> subprocess.Popen[str]:
    src = str(Path(todonode.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-c", CHILD, str(directory)], env=env, text=True, stdout=subprocess.PIPE, **kwargs
    )


def test_a_second_process_is_refused_until_the_lock_is_released(tmp_path: Path) -> None:
    lock = DataDirLock(tmp_path)
    lock.acquire()
    refused = child(tmp_path, stdin=subprocess.DEVNULL)
    out, _ = refused.communicate(timeout=60)
    assert refused.returncode == 3
    assert str(tmp_path) in out and f"pid {os.getpid()}" in out

    lock.release()
    allowed = child(tmp_path, stdin=subprocess.DEVNULL)
    out, _ = allowed.communicate(timeout=60)
    assert (allowed.returncode, out) == (0, "locked\n")


def test_this_process_is_refused_while_another_holds_the_lock(tmp_path: Path) -> None:
    holder = child(tmp_path, stdin=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    with pytest.raises(DataDirLocked) as caught:
        DataDirLock(tmp_path).acquire()
    assert caught.value.pid == holder.pid
    assert f"pid {holder.pid}" in str(caught.value) and str(tmp_path) in str(caught.value)

    holder.communicate(timeout=60)  # closes its stdin: it releases and exits
    assert holder.returncode == 0
    with DataDirLock(tmp_path) as lock:
        assert (lock.directory / "LOCK").read_text() == f"{os.getpid()}\n"


def test_the_lock_is_dropped_when_its_holder_dies(tmp_path: Path) -> None:
    holder = child(tmp_path, stdin=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    holder.kill()
    holder.wait(timeout=60)
    with DataDirLock(tmp_path):
        pass
    assert (tmp_path / "LOCK").exists()  # never deleted


def test_two_locks_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    with DataDirLock(tmp_path), pytest.raises(DataDirLocked):
        DataDirLock(tmp_path).acquire()

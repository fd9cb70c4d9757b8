"""One process per data directory.

Owns the ``LOCK`` file of a data directory and an exclusive ``flock`` on it, which the kernel drops
when the process dies, however it dies. Must never delete the lock file (a process that has just
opened it would lock a file nobody else can see) or wait for the lock: a second node on the same
directory is refused at once, with the holder's PID.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType


class DataDirLocked(Exception):
    """Another process holds the data directory."""

    def __init__(self, directory: Path, pid: int | None):
        holder = f"pid {pid}" if pid is not None else "pid unknown"
        super().__init__(
            f"data directory {directory} is in use by another todonode process ({holder}); stop that "
            "process first, or give this node a data directory of its own"
        )
        self.directory, self.pid = directory, pid


class DataDirLock:
    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self._fd = -1

    def acquire(self) -> None:
        """Lock the directory (creating it if needed) or raise DataDirLocked at once."""
        if self._fd >= 0:
            raise RuntimeError(f"{self.directory} is already locked by this DataDirLock")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise DataDirLocked(self.directory, pid) from None
        # Only the holder writes, so the PID in the file is always the holder's (or a dead one's).
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = -1

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).strip())
    except ValueError:
        return None  # the holder has locked but not yet written its PID

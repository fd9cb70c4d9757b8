"""The physical limit of one acknowledged write on this machine: an fsync of a small append (in the
directory the data directories live in, as the log does it) plus one loopback round trip (the leader
to a follower and back). No replicated store can acknowledge a durable write faster; the bench prints
how far each one's p50 latency at concurrency 1 is from it.
"""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time
from pathlib import Path

RECORD = b"x" * 200  # about one log record of a task


def fsync_ms(directory: Path, samples: int) -> float:
    """Median of ``samples`` appends of one record, each fsync'd."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    times = []
    try:
        for _ in range(samples):
            os.write(fd, RECORD)
            started = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times) * 1000


def loopback_rtt_ms(samples: int) -> float:
    """Median round trip of a small message over a TCP connection on 127.0.0.1."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        echo = threading.Thread(target=_echo, args=(server, samples), daemon=True)
        echo.start()
        with socket.create_connection(server.getsockname()) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            times = []
            for _ in range(samples):
                started = time.perf_counter()
                client.sendall(RECORD)
                _read_exactly(client, len(RECORD))
                times.append(time.perf_counter() - started)
        echo.join(timeout=5)
    return statistics.median(times) * 1000


def _echo(server: socket.socket, samples: int) -> None:
    conn, _ = server.accept()
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(samples):
            conn.sendall(_read_exactly(conn, len(RECORD)))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the other end closed the connection")
        data += chunk
    return data


def measure(directory: Path, samples: int) -> dict[str, float]:
    fsync = fsync_ms(directory, samples)
    rtt = loopback_rtt_ms(samples)
    return {"fsync_ms": fsync, "loopback_rtt_ms": rtt, "limit_ms": fsync + rtt}

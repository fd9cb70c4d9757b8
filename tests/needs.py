"""What a test needs from the machine, and what happens when the machine lacks it.

A test marked ``@pytest.mark.needs(NETNS)`` (or ``pytestmark = pytest.mark.needs(CHROMIUM)``) is
checked before it runs. When the need is missing:

- on a developer's machine it is skipped, and the reason (what is missing, how to install it) is listed
  in the summary at the end of ``make test``;
- with ``CI=true`` it fails with that same message: CI installs everything (``.ci/run``), so a missing
  piece there is a broken environment, and a skip would let a run stay green without the test.

Each check runs at most once per test process.
"""

from __future__ import annotations

import functools
import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@dataclass(frozen=True)
class Need:
    what: str  # e.g. "network namespaces"
    install: str  # how to get it, e.g. "apt-get install -y iproute2"
    probe: Callable[[], str | None]  # None when present, else why it is missing

    @functools.cached_property
    def missing(self) -> str | None:
        return self.probe()

    def message(self) -> str:
        return f"needs {self.what}: {self.missing}. To include it: {self.install}"

    def check(self) -> None:
        """Skip the calling test, or fail it under CI, when the need is missing."""
        if self.missing is None:
            return
        if in_ci():
            pytest.fail(f"CI=true and this test {self.message()}", pytrace=False)
        pytest.skip(self.message())


def _on_path(command: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        return None if shutil.which(command) else f"no `{command}` on PATH"

    return probe


def _root() -> str | None:
    return None if os.geteuid() == 0 else f"runs as uid {os.geteuid()}, not root"


def _namespaces() -> str | None:
    if sys.platform != "linux":
        return "network namespaces exist only on Linux"
    if (why := _root()) or (why := _on_path("ip")()):
        return why
    probe = f"tnprobe{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` fails here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _loopback_addresses() -> str | None:
    """Clients on addresses of their own in 127.0.0.0/8 (Linux routes all of it to loopback), and the
    nodes' memory read from /proc."""
    if sys.platform != "linux":
        return "only Linux routes all of 127.0.0.0/8 to loopback and has /proc"
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.2", 0))
        except OSError as exc:
            return f"cannot bind 127.0.0.2: {exc.strerror or exc}"
    return None


def _open_files(count: int) -> Callable[[], str | None]:
    def probe() -> str | None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard == resource.RLIM_INFINITY or hard >= count:
            return None
        return f"the hard open-file limit is {hard}, below {count}"

    return probe


ROOT = Need("root", "run the tests as root (CI does)", _root)
LOOPBACK_ADDRESSES = Need(
    "client addresses in 127.0.0.0/8 and /proc", "run the tests on Linux", _loopback_addresses
)
# The hostile-client suite holds 2,000 idle sockets and more in the test process.
MANY_OPEN_FILES = Need(
    "4,096 open files",
    "raise the hard limit (ulimit -Hn 4096, or LimitNOFILE= under systemd)",
    _open_files(4096),
)
NETNS = Need(
    "network namespaces",
    "run as root with iproute2 (apt-get install -y iproute2) and the CAP_NET_ADMIN capability",
    _namespaces,
)
CHROMIUM = Need("Chromium", "apt-get update && apt-get install -y chromium", _on_path("chromium"))
NODEJS = Need("Node.js", "apt-get update && apt-get install -y nodejs", _on_path("node"))
TCPDUMP = Need("tcpdump", "apt-get update && apt-get install -y tcpdump", _on_path("tcpdump"))
WRK = Need("wrk", "apt-get update && apt-get install -y wrk", _on_path("wrk"))
SYSTEMD_ANALYZE = Need(
    "systemd-analyze", "apt-get update && apt-get install -y systemd", _on_path("systemd-analyze")
)

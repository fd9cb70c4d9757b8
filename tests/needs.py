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
import secrets
import shutil
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


ROOT = Need("root", "run the tests as root (CI does)", _root)
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

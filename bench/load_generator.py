"""wrk, a load generator written in C, against either target: the same loads as the Python client's
and the reads it does not do, at a small fraction of its CPU cost. On two cores the load generator
competes with the servers for the CPU, so its rows are reported apart from the Python client's.

Each target says which Lua script (``bench/wrk/``) and arguments make a load (``Target.wrk_request``);
this module runs wrk on it, by PID, and reads its report.
"""

from __future__ import annotations

import asyncio
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent / "wrk"
INSTALL_HINT = "apt-get install -y wrk"
REQUEST_TIMEOUT_S = 10

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkResult:
    rate: float  # answered without an error, per second
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # answers other than 2xx/3xx, and connect, read, write and timeout errors


def available() -> bool:
    return shutil.which("wrk") is not None


async def run_wrk(url: str, script: str, args: list[str], connections: int, seconds: float) -> WrkResult:
    """One wrk run of ``seconds`` with ``connections`` connections on one thread (its cheapest form)."""
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", f"--timeout={REQUEST_TIMEOUT_S}s",
        "--latency", "-s", str(SCRIPTS / script), url, "--", *args,
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited {proc.returncode}: {err.decode(errors='replace')[-500:]}")
    return parse(out.decode())


def parse(report: str) -> WrkResult:
    """wrk's printed report → the figures; RuntimeError when it is not one."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", report)
    if done is None:
        raise RuntimeError(f"not a wrk report: {report[-500:]}")
    requests = int(done.group(1))
    seconds = float(done.group(2)) * _UNITS_MS[done.group(3)] / 1000
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", report))
    if sockets := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report):
        errors += sum(int(n) for n in sockets.groups())
    return WrkResult(
        rate=max(0, requests - errors) / seconds if seconds else math.nan,
        p50_ms=_percentile(report, "50"),
        p99_ms=_percentile(report, "99"),
        requests=requests,
        errors=errors,
    )


def _percentile(report: str, which: str) -> float:
    found = re.search(rf"^\s+{which}%\s+([\d.]+)(us|ms|s|m)\s*$", report, re.MULTILINE)
    return float(found.group(1)) * _UNITS_MS[found.group(2)] if found else math.nan

"""``python -m bench --tls`` (``make bench TLS=1``): what TLS costs. Acknowledged writes/s at
concurrency 1 and 32, sent to the leader as the throughput workload sends them, on four clusters that
differ only in TLS: todonode in plain HTTP; todonode over TLS with mutual TLS between peers; etcd in
plain HTTP; and etcd over TLS on both ports, each requiring a client certificate from the CA
(``--client-cert-auth``, ``--peer-client-cert-auth``). One CA, made by ``todonode certs init``, signs
every certificate; the client presents its own to every TLS cluster, so each does the same handshake
work. Each cluster is fresh, runs alone, and is stopped (by PID) before the next starts; runs
alternate the order so that a machine growing busier does not favour one side.

Besides writes/s it reports the CPU time all members spent per acknowledged write (from
``/proc/<pid>/stat``): on a machine busy with other work, writes/s says more about the other work than
about TLS, while the CPU a write costs hardly moves. Prints the medians, each figure's range over the
runs, and the TLS/plain and todonode/etcd ratios; writes ``tls.json`` next to the main results.
"""

from __future__ import annotations

import itertools
import json
import os
import ssl
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from todonode import certs

from .client import HttpJson, closed_loop
from .etcd_target import EtcdTarget
from .figures import Profile
from .progress import Progress
from .report import describe_machine, machine
from .targets import Target, free_ports
from .todonode_target import TodonodeTarget

CONCURRENCIES = (1, 32)
SIZE = 4
# (system, over TLS) in the order of a run; the next run goes the other way round.
SETUPS = (("todonode", False), ("todonode", True), ("etcd", False), ("etcd", True))


async def measure(profile: Profile, etcd_binary: str | None, runs: int, progress: Progress) -> dict[str, Any]:
    """``runs`` rounds over every setup; the figures of each, run by run."""
    setups = [setup for setup in SETUPS if setup[0] == "todonode" or etcd_binary is not None]
    per_run: list[dict[str, dict[str, float]]] = []
    failures: list[str] = []
    for n in range(runs):
        progress.note(f"TLS cost: run {n + 1} of {runs}")
        figures: dict[str, dict[str, float]] = {}
        for system, tls in setups if n % 2 == 0 else reversed(setups):
            name = f"{system} {'TLS' if tls else 'plain'}"
            try:
                figures[name] = await _one(system, tls, profile, etcd_binary, progress)
            except Exception as exc:
                failures.append(f"run {n + 1}, {name}: {exc.__class__.__name__}: {exc}"[:500])
                progress.note(failures[-1])
        per_run.append(figures)
    return {"per_run": per_run, "failures": failures}


async def _one(
    system: str, tls: bool, profile: Profile, etcd_binary: str | None, progress: Progress
) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="todonode-bench-tls-") as tmp:
        root = Path(tmp)
        ports = free_ports(SIZE)
        names = [f"node{port}" for port in ports] + [f"m{i}" for i in range(SIZE)]
        certs.init(root / "certs", [certs.Member(name, ("127.0.0.1",)) for name in names])
        context = ssl.create_default_context(cafile=root / "certs" / "ca.crt")
        context.load_cert_chain(root / "certs" / "client.crt", root / "certs" / "client.key")
        connector = aiohttp.TCPConnector(limit=512, limit_per_host=0, ssl=context)
        async with aiohttp.ClientSession(connector=connector) as session:
            http = HttpJson(session)
            mine = root / "certs" if tls else None
            target: Target = (
                TodonodeTarget(root / system, http, SIZE, ports=ports, certs=mine)
                if system == "todonode"
                else EtcdTarget(root / system, http, etcd_binary or "etcd", SIZE, certs=mine)
            )
            try:
                progress.stage(f"{system} {'TLS' if tls else 'plain'}: starting {SIZE} members")
                target.start_all()
                await target.wait_settled(timeout=60)
                return await _throughput(target, profile, progress, "TLS" if tls else "plain")
            finally:
                target.close()


async def _throughput(target: Target, profile: Profile, progress: Progress, how: str) -> dict[str, float]:
    """Writes/s to the leader at each concurrency (after a warm-up), and the members' CPU per write."""
    leader = await target.leader()
    seq = itertools.count()
    figures = {}
    for concurrency in CONCURRENCIES:
        progress.stage(f"{target.name} {how}: writes at concurrency {concurrency}")

        def put(n: int) -> Any:
            return target.put(leader, n)

        await closed_loop(put, profile.warmup, concurrency, seq=seq)
        before = _cpu_seconds(target)
        result = await closed_loop(put, profile.writes[concurrency], concurrency, progress.count, seq)
        spent = _cpu_seconds(target) - before
        if result.errors:
            raise RuntimeError(
                f"{result.errors} writes failed at concurrency {concurrency}: {result.error_kinds}"
            )
        figures[f"writes_c{concurrency}"] = result.rate
        figures[f"cpu_ms_c{concurrency}"] = 1000 * spent / result.acked
    return figures


def _cpu_seconds(target: Target) -> float:
    """User and system CPU time the target's members have used so far."""
    ticks = 0
    for member in target.members:
        if member.pid is not None:
            fields = Path(f"/proc/{member.pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime and stime, after the command's name
    return ticks / os.sysconf("SC_CLK_TCK")


FIGURES = {"writes_c": "writes/s", "cpu_ms_c": "CPU ms per write, all members"}


def summarize(measured: dict[str, Any], etcd: dict[str, str] | None, seconds: float) -> dict[str, Any]:
    rows = []
    for figure in FIGURES:
        for c in CONCURRENCIES:
            row: dict[str, Any] = {"figure": figure + str(c), "concurrency": c}
            for system, tls in SETUPS:
                name = f"{system} {'TLS' if tls else 'plain'}"
                values = [run[name][f"{figure}{c}"] for run in measured["per_run"] if name in run]
                row[name] = (
                    {"median": statistics.median(values), "min": min(values), "max": max(values)}
                    if values
                    else None
                )
            rows.append(row)
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "etcd": etcd,
        "seconds": round(seconds, 1),
        "rows": rows,
        **measured,
    }


def format_table(summary: dict[str, Any]) -> str:
    def ratio(a: dict[str, float] | None, b: dict[str, float] | None) -> str:
        return f"{a['median'] / b['median']:.2f}×" if a and b and b["median"] else "-"

    header = ["median (range over the runs)", "todonode plain", "todonode TLS", "TLS ÷ plain"]
    header += ["etcd plain", "etcd TLS", "TLS ÷ plain", "todonode ÷ etcd, plain / TLS"]
    lines = [" | ".join(header), " | ".join("---" for _ in header)]
    for row in summary["rows"]:
        figure = row["figure"].rstrip("0123456789")
        shape = "{:,.0f}" if figure == "writes_c" else "{:.2f}"
        tp, tt, ep, et = (row[name] for name in ("todonode plain", "todonode TLS", "etcd plain", "etcd TLS"))
        cells = [f"{FIGURES[figure]}, concurrency {row['concurrency']}", _cell(tp, shape), _cell(tt, shape)]
        cells += [ratio(tt, tp), _cell(ep, shape), _cell(et, shape), ratio(et, ep)]
        cells.append(f"{ratio(tp, ep)} / {ratio(tt, et)}")
        lines.append(" | ".join(cells))
    runs = len(summary["per_run"])
    lines.append(f"\n{runs} run{'s' if runs != 1 else ''}; {describe_machine(summary['machine'])}")
    lines += [f"failed: {failure}" for failure in summary["failures"]]
    return "\n".join(lines)


def _cell(value: dict[str, float] | None, shape: str) -> str:
    if value is None:
        return "-"
    return f"{shape.format(value['median'])} ({shape.format(value['min'])}–{shape.format(value['max'])})"


def write(summary: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "tls.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return path

"""``python -m bench --tls`` (``make bench TLS=1``): what TLS costs. Acknowledged writes/s at
concurrency 1 and 32, sent to the leader as the throughput workload sends them, on four clusters that
differ only in TLS: todonode in plain HTTP; todonode over TLS with mutual TLS between peers; etcd in
plain HTTP; and etcd over TLS on both ports, each requiring a client certificate from the CA
(``--client-cert-auth``, ``--peer-client-cert-auth``). One CA, made by ``todonode certs init``, signs
every certificate; the client presents its own to every TLS cluster, so each does the same handshake
work. Each cluster is fresh, runs alone, and is stopped (by PID) before the next starts; runs
alternate the order so that a machine growing busier does not favour one side.

Prints the medians, each figure's range over the runs, and the TLS/plain and todonode/etcd ratios;
writes ``tls.json`` next to the main results.
"""

from __future__ import annotations

import dataclasses
import json
import ssl
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from todonode import certs

from . import workloads as w
from .client import HttpJson
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
    profile = dataclasses.replace(profile, writes={c: profile.writes[c] for c in CONCURRENCIES})
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
            ctx = w.Context(target, profile, progress)
            try:
                ctx.stage(f"{'TLS' if tls else 'plain'}: starting {SIZE} members")
                target.start_all()
                await target.wait_settled(timeout=60)
                await w.throughput(ctx)
            finally:
                target.close()
    if ctx.figures.get("write_errors"):
        raise RuntimeError(f"{ctx.figures['write_errors']:.0f} writes failed")
    return {f"writes_c{c}": ctx.figures[f"writes_c{c}"] for c in CONCURRENCIES}


def summarize(measured: dict[str, Any], etcd: dict[str, str] | None, seconds: float) -> dict[str, Any]:
    rows = []
    for c in CONCURRENCIES:
        row: dict[str, Any] = {"concurrency": c}
        for system, tls in SETUPS:
            name = f"{system} {'TLS' if tls else 'plain'}"
            values = [run[name][f"writes_c{c}"] for run in measured["per_run"] if name in run]
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
    def cell(value: dict[str, float] | None) -> str:
        if value is None:
            return "-"
        return f"{value['median']:,.0f} ({value['min']:,.0f}–{value['max']:,.0f})"

    def ratio(a: dict[str, float] | None, b: dict[str, float] | None) -> str:
        return f"{a['median'] / b['median']:.2f}×" if a and b and b["median"] else "-"

    header = ["writes/s, median (range)", "todonode plain", "todonode TLS", "TLS ÷ plain"]
    header += ["etcd plain", "etcd TLS", "TLS ÷ plain", "todonode ÷ etcd, plain / TLS"]
    lines = [" | ".join(header), " | ".join("---" for _ in header)]
    for row in summary["rows"]:
        tp, tt, ep, et = (row[name] for name in ("todonode plain", "todonode TLS", "etcd plain", "etcd TLS"))
        cells = [f"concurrency {row['concurrency']}", cell(tp), cell(tt), ratio(tt, tp)]
        cells += [cell(ep), cell(et), ratio(et, ep), f"{ratio(tp, ep)} / {ratio(tt, et)}"]
        lines.append(" | ".join(cells))
    runs = len(summary["per_run"])
    lines.append(f"\n{runs} run{'s' if runs != 1 else ''}; {describe_machine(summary['machine'])}")
    lines += [f"failed: {failure}" for failure in summary["failures"]]
    return "\n".join(lines)


def write(summary: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "tls.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return path

"""``python -m bench.backup [--tasks 100000 1000000] [--runs 3]`` — what ``make bench-backup`` runs:
backups and restores of a large list, and what a backup costs the writes that go on meanwhile.

For each size, a fresh three-node cluster (shipped timings, fsync on) in a temporary directory is filled
with that many tasks; then, ``--runs`` times:

* backup: ``todonode backup --url LEADER --out FILE``, timed from start to exit (download, fsync,
  verify), and the file's size. Meanwhile a writer in this process, one request at a time (so that it
  costs the machine little), creates tasks on the leader: write p50/p99 while the backup streams, next
  to the same writer's figures in the seconds before it, and the elections the backup caused (terms);
* restore: ``todonode restore FILE --config NEW`` into an empty data directory, timed; then the
  restored node is started and timed until it answers ``/ready``.

It prints each run and the range over runs, and writes everything, with the machine's CPU model, to
``bench/results/backup.json``. Figures, not assertions: the machine decides them. Every process
started is killed by PID at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from tests.integration.harness import SECRET, Client, NodeProcess, ProcessCluster, wait_for

from .client import percentile
from .dashboard import start_filled

RESULTS = Path(__file__).resolve().parent / "results"
TIMINGS = {"heartbeat_ms": 100, "election_timeout_ms": 500, "leader_settle_ms": 3000}
BASELINE_S = 5.0  # of writes measured before each backup
NODES = 3


def storage_for(tasks: int) -> dict[str, Any]:
    """Quotas with room for ``tasks`` (the defaults stop at 200,000 tasks and 64 MB)."""
    return {"fsync": True, "max_tasks": tasks + 100_000, "max_bytes": max(64 << 20, tasks * 400)}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class Writer:
    """Creates tasks on ``url`` one at a time, noting when each started and how long it took."""

    def __init__(self, client: Client, url: str) -> None:
        self.client, self.url = client, url
        self.samples: list[tuple[float, float, bool]] = []  # (started, ms, ok)
        self._stop = asyncio.Event()

    async def run(self) -> None:
        n = 0
        while not self._stop.is_set():
            started = time.monotonic()
            code, _, _ = await self.client.call(
                "POST", self.url + "/tasks", {"title": f"during {n}"}, timeout=30
            )
            self.samples.append((started, (time.monotonic() - started) * 1000, code == 201))
            n += 1

    def stop(self) -> None:
        self._stop.set()

    def between(self, start: float, end: float) -> dict[str, Any]:
        inside = [(ms, ok) for at, ms, ok in self.samples if start <= at < end]
        latencies = [ms for ms, ok in inside if ok]
        measured = bool(latencies)
        return {
            "writes": len(latencies),
            "failed": sum(1 for _, ok in inside if not ok),
            "p50_ms": percentile(latencies, 50) if measured else None,
            "p99_ms": percentile(latencies, 99) if measured else None,
            "max_ms": max(latencies) if measured else None,
        }


def todonode(*args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TODONODE_")}
    env["TODONODE_SECRET"] = SECRET
    command = [sys.executable, "-m", "todonode.cli", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"todonode {args[0]} failed: {result.stderr.strip()}")
    return result


async def term(client: Client, cluster: ProcessCluster) -> int:
    statuses = await asyncio.gather(*(client.status(node) for node in cluster.nodes if node.running))
    return max((s["term"] for s in statuses if s), default=0)


async def one_run(client: Client, cluster: ProcessCluster, leader: NodeProcess, root: Path) -> dict[str, Any]:
    out = root / "bench.backup"
    out.unlink(missing_ok=True)
    writer = Writer(client, leader.url)
    writing = asyncio.create_task(writer.run())
    try:
        await asyncio.sleep(BASELINE_S)  # the writer's figures before the backup: a span of time is the point
        term_before = await term(client, cluster)
        started = time.monotonic()
        await asyncio.to_thread(todonode, "backup", "--url", leader.url, "--out", str(out))
        ended = time.monotonic()
        elections = await term(client, cluster) - term_before
    finally:
        writer.stop()
        await writing
    run = {
        "backup_s": ended - started,
        "file_mb": out.stat().st_size / 1e6,
        "elections": elections,
        "before": writer.between(started - BASELINE_S, started),
        "during": writer.between(started, ended),
    }
    run.update(await restore(client, out, root / "restored"))
    return run


async def restore(client: Client, backup: Path, root: Path) -> dict[str, Any]:
    shutil.rmtree(root, ignore_errors=True)
    restored = ProcessCluster(root, 1, timings=TIMINGS, storage=storage_for(0), log_level="info")
    node = restored.nodes[0]
    try:
        started = time.monotonic()
        await asyncio.to_thread(todonode, "restore", str(backup), "--config", str(node.config))
        restore_s = time.monotonic() - started
        started = time.monotonic()
        restored.start(node.index)

        async def ready() -> bool:
            code, _, _ = await client.call("GET", node.url + "/ready", timeout=2)
            return code == 200

        await wait_for(ready, 600, "the restored node to be ready", interval=0.05)
        return {"restore_s": restore_s, "restored_ready_s": time.monotonic() - started}
    finally:
        restored.close()


async def at_size(tasks: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="todonode-bench-backup-") as tmp:
        root = Path(tmp)
        cluster = ProcessCluster(
            root / "cluster", NODES, timings=TIMINGS, storage=storage_for(tasks), log_level="info"
        )
        try:
            async with aiohttp.ClientSession() as session:
                client = Client(session, timeout=60)
                leader = await start_filled(cluster, client, tasks)
                results = []
                for n in range(runs):
                    run = await one_run(client, cluster, leader, root)
                    results.append(run)
                    print(f"  run {n + 1}: {_line(run)}", flush=True)
        finally:
            cluster.close()
    return {"runs": results, "range": _ranges(results)}


def _line(run: dict[str, Any]) -> str:
    return (
        f"backup {run['backup_s']:.1f} s, {run['file_mb']:.1f} MB; restore {run['restore_s']:.1f} s, ready "
        f"{run['restored_ready_s']:.1f} s later; writes p99 {_ms(run['before']['p99_ms'])} before, "
        f"{_ms(run['during']['p99_ms'])} during ({run['during']['writes']} writes, "
        f"{run['during']['failed']} failed); elections {run['elections']}"
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


FIGURES = {
    "backup_s": lambda run: run["backup_s"],
    "file_mb": lambda run: run["file_mb"],
    "restore_s": lambda run: run["restore_s"],
    "restored_ready_s": lambda run: run["restored_ready_s"],
    "write_p99_before_ms": lambda run: run["before"]["p99_ms"],
    "write_p99_during_ms": lambda run: run["during"]["p99_ms"],
    "elections": lambda run: run["elections"],
}


def _ranges(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    ranges: dict[str, dict[str, float]] = {}
    for name, of in FIGURES.items():
        values = [value for run in runs if (value := of(run)) is not None]
        if not values:
            continue
        ranges[name] = {"min": min(values), "median": statistics.median(values), "max": max(values)}
    return ranges


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS, help="where backup.json goes")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"cpu": cpu_model(), "cores": os.cpu_count(), "nodes": NODES, "sizes": {}}
    print(f"{report['cpu']}, {report['cores']} cores; {NODES} nodes; {args.runs} runs per size", flush=True)
    for tasks in args.tasks:
        report["sizes"][str(tasks)] = await at_size(tasks, args.runs)
        for name, span in report["sizes"][str(tasks)]["range"].items():
            print(f"  {name}: {span['min']:.1f} .. {span['max']:.1f} (median {span['median']:.1f})")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "backup.json").write_text(json.dumps(report, indent=2, allow_nan=False, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))

"""One benchmark run: the todonode clusters, then (when etcd is installed) the etcd cluster.

Everything lives in one temporary directory that is removed at the end; every process is killed by
PID when its cluster is done, also when a workload fails or the run is interrupted. A failed
workload is recorded (with the tail of every member's log) and the run goes on with the next one.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from . import physical
from . import workloads as w
from .client import HttpJson, new_session
from .etcd_target import EtcdTarget
from .figures import Profile
from .progress import Progress
from .targets import Target
from .todonode_target import TodonodeTarget

Workload = Callable[[w.Context], Awaitable[None]]

# The main cluster's quota (storage.max_tasks): its loads write a few hundred thousand tasks, past the
# default, which would refuse the last of them and every write of the failover after them.
MAIN_MAX_TASKS = 2_000_000

# One cluster for these, in this order (each leaves the cluster healthy for the next; failover goes last,
# as its last kill would otherwise cost a wait for leadership to move back to the preferred node)...
TODONODE_MAIN: tuple[Workload, ...] = (
    w.throughput,
    w.wrk_loads,
    w.visibility,
    w.catch_up,
    w.elections,
    w.failover,
)
# ...and a fresh one for the figures at scale, so memory held from earlier load does not count.
TODONODE_SCALE: tuple[Workload, ...] = (w.scale,)
ETCD: tuple[Workload, ...] = (w.throughput, w.wrk_loads, w.visibility, w.failover)
# make bench-scale: the figures at scale, then a catch-up with that much state.
TODONODE_AT_SCALE: tuple[Workload, ...] = (w.scale, w.catch_up)


async def run_once(
    profile: Profile, etcd_binary: str | None, progress: Progress, logs: Path | None = None
) -> dict[str, Any]:
    """One run; every member's log is copied to ``logs``/<cluster>/ at the end (when given)."""
    run: dict[str, Any] = {
        "todonode": {},
        "etcd": None,
        "extras": {"todonode": {}, "etcd": {}},
        "failures": [],
        "notes": [],
    }
    with tempfile.TemporaryDirectory(prefix="todonode-bench-") as tmp:
        root = Path(tmp)
        progress.stage("physical limit: fsync and loopback round trip")
        limit = physical.measure(root, profile.physical_samples)
        run["extras"]["physical"] = limit
        async with new_session() as session:
            http = HttpJson(session)
            clusters: list[tuple[Target, Sequence[Workload]]] = [
                (TodonodeTarget(root / "todonode", http, max_tasks=MAIN_MAX_TASKS), TODONODE_MAIN),
                (TodonodeTarget(root / "todonode-scale", http), TODONODE_SCALE),
            ]
            if etcd_binary is not None:
                run["etcd"] = {}
                clusters.append((EtcdTarget(root / "etcd", http, etcd_binary), ETCD))
            for target, workloads in clusters:
                try:
                    await _on_cluster(target, workloads, profile, progress, run)
                finally:
                    if logs is not None:
                        _keep_logs(target, logs / target.root.name)
    _against_the_limit(run, limit["limit_ms"])
    return run


async def run_scale_once(profile: Profile, progress: Progress, logs: Path | None = None) -> dict[str, Any]:
    """One run of ``make bench-scale``: todonode alone, TODONODE_AT_SCALE on one fresh cluster."""
    run: dict[str, Any] = {
        "todonode": {},
        "etcd": None,
        "extras": {"todonode": {}},
        "failures": [],
        "notes": [],
    }
    with tempfile.TemporaryDirectory(prefix="todonode-bench-scale-") as tmp:
        async with new_session() as session:
            target = TodonodeTarget(
                Path(tmp) / "todonode-scale",
                HttpJson(session),
                snapshot_every=profile.snapshot_every,
                # The default quota (storage.max_tasks) would refuse the fill long before it is done.
                max_tasks=2 * profile.scale_tasks,
            )
            try:
                await _on_cluster(target, TODONODE_AT_SCALE, profile, progress, run)
            finally:
                if logs is not None:
                    _keep_logs(target, logs / target.root.name)
    return run


def _against_the_limit(run: dict[str, Any], limit_ms: float) -> None:
    """How far each system's p50 write latency at concurrency 1 (from wrk) is from the physical limit."""
    run["todonode"]["physical_limit_ms"] = limit_ms
    for system in ("todonode", "etcd"):
        figures = run[system]
        if figures is not None and "wrk_p50_c1" in figures:
            figures["p50_over_limit"] = figures["wrk_p50_c1"] / limit_ms


async def _on_cluster(
    target: Target, workloads: Sequence[Workload], profile: Profile, progress: Progress, run: dict[str, Any]
) -> None:
    ctx = w.Context(target, profile, progress, figures=run[target.name], extras=run["extras"][target.name])
    try:
        ctx.stage(f"starting {target.size} members")
        target.start_all()
        try:
            await target.wait_settled(timeout=60)
        except Exception as exc:
            _failed(run, target, "start", exc, progress)
            return
        for workload in workloads:
            try:
                await workload(ctx)
            except Exception as exc:
                _failed(run, target, workload.__name__, exc, progress)
    finally:
        target.close()
        for note in getattr(target, "notes", []):
            run["notes"].append(f"{target.name}: {note}")


def _failed(run: dict[str, Any], target: Target, what: str, exc: BaseException, progress: Progress) -> None:
    message = f"{exc.__class__.__name__}: {exc}"
    progress.note(f"{target.name}: {what} failed: {message}")
    run["failures"].append(
        {"target": target.name, "workload": what, "error": message[:1000], "logs": target.log_tails()}
    )


def _keep_logs(target: Target, into: Path) -> None:
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True, exist_ok=True)
    for member in target.members:
        if member.log.exists():
            shutil.copy(member.log, into / member.log.name)

"""What is measured, at which sizes, and the target each figure is held to
(docs/guarantees.md#performance-targets).

Every figure has a stable id (the JSON key; the CI test checks each one is produced). Figures that
make sense for etcd are measured on both systems and get a todonode/etcd ratio; the others are
todonode's alone ("n/a" for etcd). A target is checked on the medians of the runs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    writes: dict[int, int]  # concurrency -> acknowledged writes measured at it
    warmup: int  # writes sent first at each concurrency, not measured
    visibility_samples: int
    kills: int
    before_kill_s: float  # steady load before each kill
    after_recovery_s: float  # load kept up once writes flow again...
    failover_watch_s: float  # ...and at least this long after the kill (the timeline in the chart)
    election_watch_s: float
    scale_tasks: int
    scale_writes: int  # writes at c=8 measured on the empty and on the full cluster
    missed_writes: int
    list_requests: int
    wrk_seconds: float  # each wrk load (load_generator.py)
    physical_samples: int  # fsyncs and loopback round trips timed for the physical limit
    snapshot_every: int = 10_000  # the scale cluster's storage.snapshot_every (the shipped default)


FULL = Profile(
    name="full",
    writes={1: 2_000, 8: 20_000, 32: 20_000},
    warmup=200,
    visibility_samples=200,
    kills=5,
    before_kill_s=1.0,
    after_recovery_s=0.5,
    failover_watch_s=2.5,
    election_watch_s=60.0,
    scale_tasks=100_000,
    scale_writes=5_000,
    missed_writes=10_000,
    list_requests=500,
    wrk_seconds=10.0,
    physical_samples=500,
)

QUICK = Profile(
    name="quick",
    writes={1: 100, 8: 400, 32: 800},
    warmup=20,
    visibility_samples=20,
    kills=1,
    before_kill_s=0.5,
    after_recovery_s=0.2,
    failover_watch_s=0.0,
    election_watch_s=2.0,
    scale_tasks=5_000,
    scale_writes=200,
    missed_writes=300,
    list_requests=50,
    wrk_seconds=1.0,
    physical_samples=50,
)

# ``make bench-scale``: the figures at a million tasks, on a cluster of their own (``SCALE_FIGURES``).
# Everything it does not measure is sized as in QUICK. With the shipped snapshot_every, its ~11,000
# entries take one snapshot of the full state, under load. SCALE_QUICK checks in CI that it runs, and
# snapshots more often so that its few hundred entries take one too.
# Both catch-ups miss twice snapshot_every writes: the leader then snapshots at least twice while the
# node is down and keeps at most snapshot_every (and 5,000) entries of its log, so the node must be sent
# the full snapshot.
SCALE = dataclasses.replace(
    QUICK, name="scale", scale_tasks=1_000_000, scale_writes=5_000, missed_writes=20_000, list_requests=500
)
SCALE_QUICK = dataclasses.replace(QUICK, name="scale-quick", snapshot_every=300, missed_writes=600)

# (result, footnote): result is "PASS", "FAIL", "n/c" (not checked: needs etcd) or "" (no target).
Check = Callable[[float, float | None], tuple[str, str | None]]

NO_ETCD_NOTE = "the × etcd part of this target was not checked: no etcd in this run"


def _at_most(limit: float) -> Check:
    return lambda value, _etcd: ("PASS" if value <= limit else "FAIL", None)


def _at_least(limit: float) -> Check:
    return lambda value, _etcd: ("PASS" if value >= limit else "FAIL", None)


def _times_etcd(factor: float) -> Check:
    def check(value: float, etcd: float | None) -> tuple[str, str | None]:
        if etcd is None:
            return "n/c", f"a target of {factor:g} × etcd only: run with etcd installed to check it"
        return ("PASS" if value >= factor * etcd else "FAIL"), None

    return check


def _c32(value: float, etcd: float | None) -> tuple[str, str | None]:
    absolute = value >= 1_000
    if etcd is None:
        return ("PASS*" if absolute else "FAIL"), NO_ETCD_NOTE
    return ("PASS" if absolute and value >= 1.2 * etcd else "FAIL"), None


@dataclass(frozen=True)
class Figure:
    id: str
    label: str  # may name the profile's sizes: {tasks}, {missed}, {watch}, {kills}
    unit: str
    on_etcd: bool  # also measured on etcd
    target: str = ""
    check: Check | None = None
    digits: int = 1
    ratio: bool = True  # a todonode/etcd ratio means something

    def title(self, profile: Profile) -> str:
        return self.label.format(
            tasks=f"{profile.scale_tasks:,}",
            missed=f"{profile.missed_writes:,}",
            watch=f"{profile.election_watch_s:g}",
            kills=profile.kills,
        )

    def evaluate(self, value: float | None, etcd: float | None) -> tuple[str, str | None]:
        if self.check is None:
            return "", None
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "FAIL", f"{self.id}: not measured"
        return self.check(value, etcd)


FIGURES: tuple[Figure, ...] = (
    Figure("writes_c1", "writes/s at concurrency 1", "/s", True, "≥ 1.0× etcd", _times_etcd(1.0)),
    Figure("p50_c1", "  write latency p50, c=1", "ms", True, digits=2),
    Figure("p99_c1", "  write latency p99, c=1", "ms", True, digits=2),
    Figure("writes_c8", "writes/s at concurrency 8", "/s", True, "≥ 1.2× etcd", _times_etcd(1.2)),
    Figure("p50_c8", "  write latency p50, c=8", "ms", True, digits=2),
    Figure("p99_c8", "  write latency p99, c=8", "ms", True, digits=2),
    Figure("writes_c32", "writes/s at concurrency 32", "/s", True, "≥ 1.2× etcd, ≥ 1,000/s", _c32),
    Figure("p50_c32", "  write latency p50, c=32", "ms", True, digits=2),
    Figure("p99_c32", "  write latency p99, c=32", "ms", True, digits=2),
    Figure("write_errors", "write errors at c=1, 8, 32", "", True, "0", _at_most(0), 0, ratio=False),
    Figure("wrk_writes_c1", "wrk: writes/s at concurrency 1", "/s", True, "≥ 1.0× etcd", _times_etcd(1.0)),
    Figure("wrk_p50_c1", "  wrk: write latency p50, c=1", "ms", True, digits=2),
    Figure(
        "p50_over_limit",
        "  wrk: p50 ÷ physical limit, c=1",
        "×",
        True,
        "≤ 3×",
        _at_most(3.0),
        2,
        ratio=False,
    ),
    Figure("wrk_writes_c32", "wrk: writes/s at concurrency 32", "/s", True, "≥ 1.2× etcd", _times_etcd(1.2)),
    Figure(
        "wrk_reads_leader",
        "wrk: linearizable reads/s, leader, c=32",
        "/s",
        True,
        "≥ 1.5× etcd",
        _times_etcd(1.5),
    ),
    Figure("wrk_reads_follower", "wrk: linearizable reads/s, follower, c=32", "/s", True),
    Figure("wrk_reads_local", "wrk: local reads/s, follower, c=32 (etcd: serializable)", "/s", True),
    Figure(
        "wrk_mix",
        "wrk: 90/10 read/write mix on the leader, c=32",
        "/s",
        True,
        "≥ 1.3× etcd",
        _times_etcd(1.3),
    ),
    Figure("wrk_errors", "wrk: errors over all its loads", "", True, "0", _at_most(0), 0, ratio=False),
    Figure(
        "physical_limit_ms", "physical limit of a write: fsync + loopback round trip", "ms", False, digits=3
    ),
    Figure("visible_p50", "visible on all followers after ack, p50", "ms", True, digits=2),
    Figure("visible_p99", "visible on all followers after ack, p99", "ms", True, "≤ 5 ms", _at_most(5), 2),
    Figure(
        "failover_median",
        "failover after kill -9 of the leader, median",
        "s",
        True,
        "≤ 1.0 s",
        _at_most(1.0),
        2,
    ),
    Figure(
        "failover_max",
        "failover after kill -9 of the leader, max of {kills}",
        "s",
        True,
        "≤ 1.5 s",
        _at_most(1.5),
        2,
    ),
    Figure(
        "failover_errors",
        "failover: errors seen by clients of survivors",
        "",
        True,
        "0",
        _at_most(0),
        0,
        ratio=False,
    ),
    Figure("elections", "elections in {watch} s of full load, no faults", "", False, "0", _at_most(0), 0),
    Figure("load_errors", "  write errors during those {watch} s", "", False, digits=0),
    Figure("scale_ratio", "writes/s at {tasks} tasks ÷ empty (c=8)", "×", False, "≥ 0.9×", _at_least(0.9), 2),
    Figure("restart_s", "restart with {tasks} tasks until ready", "s", False, "≤ 2 s", _at_most(2.0), 2),
    Figure(
        "catchup_s", "catch-up of a node that missed {missed} writes", "s", False, "≤ 2 s", _at_most(2.0), 2
    ),
    Figure("rss_mb", "RSS per node at {tasks} tasks (largest)", "MB", False, "≤ 150 MB", _at_most(150), 0),
    Figure(
        "list_p99_ms", "GET /tasks?limit=100 at {tasks} tasks, p99", "ms", False, "≤ 10 ms", _at_most(10), 2
    ),
)

FIGURE_IDS = tuple(f.id for f in FIGURES)
ETCD_FIGURE_IDS = tuple(f.id for f in FIGURES if f.on_etcd)

SCALE_FIGURES: tuple[Figure, ...] = (
    Figure("scale_ratio", "writes/s at {tasks} tasks ÷ empty (c=8)", "×", False, "≥ 0.9×", _at_least(0.9), 2),
    Figure("restart_s", "restart with {tasks} tasks until ready", "s", False, "≤ 5 s", _at_most(5.0), 2),
    Figure(
        "catchup_s", "catch-up of a node that missed {missed} writes, at {tasks} tasks", "s", False, digits=2
    ),
    Figure("catchup_elections", "  elections from its restart to 5 s after", "", False, "0", _at_most(0), 0),
    Figure("catchup_snapshot_mb", "  snapshot it was sent, in chunks (0: none)", "MB", False, digits=0),
    Figure("rss_mb", "RSS per node at {tasks} tasks (largest)", "MB", False, "≤ 400 MB", _at_most(400), 0),
    Figure(
        "list_p99_ms", "GET /tasks?limit=100 at {tasks} tasks, p99", "ms", False, "≤ 10 ms", _at_most(10), 2
    ),
    Figure("snapshot_mb", "largest snapshot taken", "MB", False, digits=0),
    Figure(
        "scale_elections",
        "elections while filled to {tasks} tasks and snapshotting",
        "",
        False,
        "0",
        _at_most(0),
        0,
    ),
)
SCALE_FIGURE_IDS = tuple(f.id for f in SCALE_FIGURES)

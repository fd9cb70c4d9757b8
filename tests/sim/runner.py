"""One seed in, one result out: how the simulator is run by pytest and by ``python -m tests.sim``.

The seed decides everything: cluster size, network conditions, fault and client rates, how often the
membership changes, and every random choice after that. Rerunning a seed reproduces its schedule exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from todonode.raft import RaftNode

from .checker import Violation
from .cluster import SimCluster, SimConfig, Stalled
from .membership import MEMBERSHIP_FAULTS

# How a seed can fail. Only SAFETY is the checker's verdict; the others must not be mistaken for it.
SAFETY = "safety"  # the checker found a broken rule (SeedResult.rule names it)
STALLED = "stalled"  # liveness: the healed cluster did not recover in time
CRASHED = "crashed"  # the core raised (its own tripwires): a real node would crash


@dataclass
class SeedResult:
    seed: int
    steps: int
    nodes: int
    failover_ms: list[float] = field(default_factory=list)
    membership_changes: int = 0  # configuration changes the leaders took (some may have been cut again)
    failure: str | None = None  # SAFETY, STALLED or CRASHED; None when the seed passed
    rule: str | None = None  # the rule broken, when failure is SAFETY
    report: str | None = None  # what failed and the events that led to it

    def summary(self) -> str:
        head = f"seed {self.seed}: {self.nodes} nodes, {self.steps} steps"
        if self.failure:
            return f"{head}: {self.failure.upper()}\n{self.report}"
        return f"{head}: ok, failover {', '.join(f'{ms:.0f} ms' for ms in self.failover_ms)}"


def config_for_seed(seed: int, steps: int, node_class: type[RaftNode] = RaftNode, **overrides) -> SimConfig:
    rng = random.Random(f"config-{seed}")
    cfg = SimConfig(
        nodes=rng.choice((3, 4, 5)),
        steps=steps,
        fault_rate=rng.choice((0.002, 0.005, 0.01)),
        client_rate=rng.choice((0.03, 0.08, 0.15)),
        compact_every=rng.choice((10, 25, 100)),
        max_entries_per_append=rng.choice((1, 4, 64)),
        node_class=node_class,
    )
    # Some schedules keep their first members throughout; the others change them, some twice as often.
    churn = rng.choice((0, 1, 2))
    cfg.faults = {k: w * churn if k in MEMBERSHIP_FAULTS else w for k, w in cfg.faults.items()}
    # A third read by lease, with clocks 10 % apart either way and the margin that calls for (whole
    # ticks a leader may lose on a voter in 9 ticks: 9 - 9 * 0.9 / 1.1 = 1.6, so 2).
    if rng.random() < 1 / 3:
        cfg.clock_drift, cfg.lease_drift_ticks = 0.1, 2
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


def run_seed(
    seed: int,
    steps: int = 3000,
    *,
    trace_all: bool = False,
    node_class: type[RaftNode] = RaftNode,
    **overrides,
) -> SeedResult:
    cfg = config_for_seed(seed, steps, node_class, **overrides)
    cluster = SimCluster(seed, cfg, trace_all=trace_all)
    result = SeedResult(seed=seed, steps=0, nodes=cfg.nodes)
    try:
        cluster.run()
    except Violation as v:
        result.failure, result.rule, what = SAFETY, v.rule, str(v)
    except Stalled as stalled:
        result.failure, what = STALLED, str(stalled)
    except Exception as exc:
        result.failure, what = CRASHED, f"{type(exc).__name__}: {exc}"
    if result.failure:
        result.report = f"seed {seed}: {what}\n--- last events ---\n{cluster.trace_tail()}"
    result.steps = cluster.steps
    result.failover_ms = cluster.failover_ms
    result.membership_changes = cluster.membership.accepted
    return result

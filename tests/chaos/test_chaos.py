"""The CI profile of the chaos suite: a short seeded run per profile, checked by the checker. Each
run lasts until every fault kind of its profile, membership changes included, has struck at least
once (a fault that found its victim already down does not count), and must settle after the final
heal.

``make chaos MINUTES=30 SEED=7`` runs the same thing for as long as you like.
"""

import pytest

from tests.needs import NETNS

from .conftest import SEED
from .nemesis import MEMBERSHIP_FAULTS, NETWORK_FAULTS, PROCESS_FAULTS
from .runner import ChaosOptions, chaos_cluster, run_chaos

SNAPSHOT_EVERY = 100


async def _run(tmp_path, profile: str, duration_s: float):
    options = ChaosOptions(
        seed=SEED, duration_s=duration_s, profile=profile, artifacts=tmp_path / "artifacts", every_kind=True
    )
    # Frequent snapshots: compaction and snapshot installs happen under the faults too.
    storage = {"snapshot_every": SNAPSHOT_EVERY}
    with chaos_cluster(profile, tmp_path / "cluster", storage=storage) as (cluster, network):
        report = await run_chaos(cluster, network, options)
    print(report.table())
    assert report.ok, (
        f"{report.failure_text()}\n\n{report.table()}\n\nhistory and node logs: {tmp_path}; "
        f"rerun with CHAOS_SEED={SEED}"
    )
    return report.figures()


@pytest.mark.needs(NETNS)
async def test_four_nodes_in_namespaces_survive_kills_pauses_restarts_and_partitions(tmp_path):
    figures = await _run(tmp_path, "netns", duration_s=45)
    assert figures["acked_writes"] >= 200
    assert figures["strong_reads"] >= 20
    assert set(figures["faults"]) == set(PROCESS_FAULTS + MEMBERSHIP_FAULTS + NETWORK_FAULTS), figures[
        "faults"
    ]


async def test_four_nodes_on_loopback_survive_kills_pauses_and_restarts(tmp_path):
    figures = await _run(tmp_path, "loopback", duration_s=15)
    assert figures["acked_writes"] >= 80
    assert set(figures["faults"]) == set(PROCESS_FAULTS + MEMBERSHIP_FAULTS), figures["faults"]

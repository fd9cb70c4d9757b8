"""Hundreds of randomized fault schedules through the real core, membership changes among the faults;
every safety property is checked after every step, liveness and convergence after the faults heal
(see checker.py, cluster.py and membership.py)."""

import pytest

from .runner import run_seed

SEEDS = 500
STEPS = 3000
CHUNKS = 10  # spread over pytest-xdist workers


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_random_fault_schedules_keep_raft_safe_and_converge(chunk):
    per_chunk = SEEDS // CHUNKS
    seeds = range(chunk * per_chunk, (chunk + 1) * per_chunk)
    failures = []
    steps = 0
    for seed in seeds:
        result = run_seed(seed, STEPS)
        steps += result.steps
        assert result.steps >= STEPS
        if result.failure:
            failures.append(result.report)
    assert not failures, f"{len(failures)} schedules failed; first:\n{failures[0]}"
    assert steps >= per_chunk * STEPS


def test_a_seed_replays_exactly():
    first, second = run_seed(1234, 1500), run_seed(1234, 1500)
    assert (first.steps, first.failover_ms, first.failure, first.report) == (
        second.steps,
        second.failover_ms,
        second.failure,
        second.report,
    )


def test_failover_after_a_leader_crash_is_bounded():
    # Every schedule ends by killing the settled leader; with 500 ms election timeouts a new leader
    # must follow within a few timeouts.
    times = [ms for seed in range(40) for ms in run_seed(seed, 500).failover_ms]
    assert len(times) == 40
    assert max(times) < 5000


def test_membership_changes_are_part_of_the_schedules():
    """Without this, a simulator that never changed the membership would pass every check above."""
    results = [run_seed(seed, 1500) for seed in range(12)]
    assert all(r.failure is None for r in results), [r.summary() for r in results if r.failure]
    assert sum(r.membership_changes for r in results) >= 20
    assert sum(1 for r in results if r.membership_changes == 0) >= 1  # and some keep their members

"""Hundreds of randomized fault schedules through the real core; every safety property is checked
after every step, liveness and convergence after the faults heal (see checker.py and cluster.py)."""

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

"""The checkers are shown to work: each planted bug must be caught within a small seed budget.

The bug schedules favour what exposes them: frequent leader crashes with short downtime, slow
messages, and one entry per append, which opens the window of Raft's Figure 8.
"""

import pytest

from .mutants import PLANTED_BUGS
from .runner import run_seed

CRASHY = {
    "nodes": 3,
    "max_entries_per_append": 1,
    "fault_rate": 0.05,
    "client_rate": 0.15,
    "slow_rate": 0.1,
    "downtime_ms": (50.0, 800.0),
    "faults": {"crash_leader": 6, "crash": 2, "isolate_leader": 2, "heal": 2},
}
SEED_BUDGET = 400
STEPS = 3000


@pytest.mark.parametrize("bug", list(PLANTED_BUGS))
def test_simulator_catches_planted_bug(bug):
    node_class, overrides = PLANTED_BUGS[bug]
    for seed in range(SEED_BUDGET):
        result = run_seed(seed, STEPS, node_class=node_class, **{**CRASHY, **overrides})
        if result.violation:
            return
    pytest.fail(f"planted bug '{bug}' survived {SEED_BUDGET} schedules: the checker is blind to it")


def test_the_same_schedules_pass_without_a_planted_bug():
    # Without this, a checker that flags everything would pass the test above.
    for seed in range(60):
        result = run_seed(seed, STEPS, **CRASHY)
        assert result.violation is None, result.violation

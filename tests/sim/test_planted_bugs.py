"""The checker's rules are shown to work: each planted bug must break, within a small seed budget, the
very rule it was planted to break, named by the checker.

Only the checker's verdict counts as a catch. A schedule that stalls (liveness) or makes the core raise
one of its own tripwires shows that something is wrong, not that the rule can fail, so it is noted and
the search goes on. A bug may break other rules first, as a consequence (a vote forgotten in a crash
also elects leaders that lack committed entries); those are noted too.

The bug schedules favour what exposes them: frequent leader crashes with short downtime, slow
messages, and one entry per append, which opens the window of Raft's Figure 8. The control runs the
very same schedules, every seed of the budget, without a bug: none may fail in any way.
"""

from collections import Counter

import pytest

from .checker import ELECTION_SAFETY, LEADER_COMPLETENESS, STATE_MACHINE_SAFETY
from .mutants import PLANTED_BUGS
from .runner import SAFETY, run_seed

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
CONTROL_CHUNKS = 4  # the control's seeds spread over pytest-xdist workers

# planted bug (a name in mutants.PLANTED_BUGS) -> the rule it breaks
RULE_BROKEN_BY = {
    "vote twice in one term": ELECTION_SAFETY,
    "skip the up-to-date check": LEADER_COMPLETENESS,
    "commit an old-term entry by counting replicas": LEADER_COMPLETENESS,
    "send a vote before persisting it": ELECTION_SAFETY,
    "apply an uncommitted entry": STATE_MACHINE_SAFETY,
}


def test_every_planted_bug_names_the_rule_it_breaks():
    assert set(RULE_BROKEN_BY) == set(PLANTED_BUGS), "RULE_BROKEN_BY must name one rule per planted bug"


@pytest.mark.parametrize("bug", list(PLANTED_BUGS))
def test_simulator_catches_planted_bug_breaking_its_rule(bug):
    node_class, overrides = PLANTED_BUGS[bug]
    expected = RULE_BROKEN_BY[bug]
    seen: Counter[str] = Counter()
    for seed in range(SEED_BUDGET):
        result = run_seed(seed, STEPS, node_class=node_class, **{**CRASHY, **overrides})
        if result.failure == SAFETY and result.rule == expected:
            return
        if result.failure:
            seen[result.rule or result.failure] += 1
    pytest.fail(
        f"planted bug '{bug}' never broke {expected} in {SEED_BUDGET} schedules: the checker is blind to "
        f"it (other failures seen: {dict(seen) or 'none'})"
    )


@pytest.mark.parametrize("chunk", range(CONTROL_CHUNKS))
def test_the_same_schedules_pass_without_a_planted_bug(chunk):
    # Without this, a checker that flags everything would pass the test above.
    for seed in range(chunk, SEED_BUDGET, CONTROL_CHUNKS):
        result = run_seed(seed, STEPS, **CRASHY)
        assert result.failure is None, result.summary()

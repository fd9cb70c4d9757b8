"""The checker's rules are shown to work: each planted bug must break, within a small seed budget, the
very rule it was planted to break, named by the checker.

Only the checker's verdict counts as a catch. A schedule that stalls (liveness) or makes the core raise
one of its own tripwires shows that something is wrong, not that the rule can fail, so it is noted and
the search goes on. A bug may break other rules first, as a consequence (a vote forgotten in a crash
also elects leaders that lack committed entries); those are noted too.

The bug schedules favour what exposes them: frequent leader crashes with short downtime, slow
messages, and one entry per append, which opens the window of Raft's Figure 8. The membership bugs add
membership churn on top (CHURNY), where each is caught within a few seeds. The lease bugs need lease
reads on, clocks that drift far apart (LEASY: up to 45 % either way, with the drift margin that rate
calls for), a leader cut off or paused for long enough that another is elected, and clients still
reading from the one that thinks it leads. The control runs the very same schedules, every seed of
each budget, without a bug: none may fail in any way.
"""

from collections import Counter

import pytest

from .checker import (
    CONFIGURATION_FROM_THE_LOG,
    ELECTION_SAFETY,
    LEADER_COMPLETENESS,
    LINEARIZABLE_READS,
    OVERLAPPING_MAJORITIES,
    STATE_MACHINE_SAFETY,
)
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
CHURNY = {
    **CRASHY,
    "faults": {
        **{"crash_leader": 4, "crash": 2, "isolate_leader": 2, "partition": 2, "heal": 3},
        **{"add_learner": 3, "promote": 2, "remove": 2, "remove_leader": 2, "replace": 2, "decommission": 1},
    },
}
LEASY = {
    "nodes": 3,
    "clock_drift": 0.45,
    # Whole ticks the leader's clock may fall behind a voter's over an election timeout (10 ticks) when
    # one runs 45 % slow and the other 45 % fast: 9 - 9 * 0.55 / 1.45 = 5.6, so 6.
    "lease_drift_ticks": 6,
    "read_rate": 0.3,
    "stale_read_rate": 0.5,
    "fault_rate": 0.01,
    "client_rate": 0.3,
    "downtime_ms": (50.0, 800.0),
    "faults": {"isolate_leader": 4, "pause_leader": 2, "crash": 1, "heal": 1},
}
# schedule name -> (SimConfig overrides, how many seeds a bug may take to show, and the control runs)
SCHEDULES = {
    "crashy": (CRASHY, 400),
    "churny": (CHURNY, 100),
    "leasy": (LEASY, 100),
}
STEPS = 3000
CONTROL_CHUNKS = 4  # each schedule's control seeds spread over pytest-xdist workers

# planted bug (a name in mutants.PLANTED_BUGS) -> (the rule it breaks, the schedule that shows it)
RULE_BROKEN_BY = {
    "vote twice in one term": (ELECTION_SAFETY, "crashy"),
    "skip the up-to-date check": (LEADER_COMPLETENESS, "crashy"),
    "commit an old-term entry by counting replicas": (LEADER_COMPLETENESS, "crashy"),
    "send a vote before persisting it": (ELECTION_SAFETY, "crashy"),
    "apply an uncommitted entry": (STATE_MACHINE_SAFETY, "crashy"),
    "apply a configuration only at commit": (CONFIGURATION_FROM_THE_LOG, "churny"),
    "allow two configuration changes in flight": (OVERLAPPING_MAJORITIES, "churny"),
    "count a learner's vote": (ELECTION_SAFETY, "churny"),
    "lease a read without the drift margin": (LINEARIZABLE_READS, "leasy"),
    "keep the read lease through a pause": (LINEARIZABLE_READS, "leasy"),
}


def test_every_planted_bug_names_the_rule_it_breaks():
    assert set(RULE_BROKEN_BY) == set(PLANTED_BUGS), "RULE_BROKEN_BY must name one rule per planted bug"


@pytest.mark.parametrize("bug", list(PLANTED_BUGS))
def test_simulator_catches_planted_bug_breaking_its_rule(bug):
    node_class, overrides = PLANTED_BUGS[bug]
    expected, schedule = RULE_BROKEN_BY[bug]
    base, budget = SCHEDULES[schedule]
    seen: Counter[str] = Counter()
    for seed in range(budget):
        result = run_seed(seed, STEPS, node_class=node_class, **{**base, **overrides})
        if result.failure == SAFETY and result.rule == expected:
            return
        if result.failure:
            seen[result.rule or result.failure] += 1
    pytest.fail(
        f"planted bug '{bug}' never broke {expected} in {budget} '{schedule}' schedules: the checker is "
        f"blind to it (other failures seen: {dict(seen) or 'none'})"
    )


@pytest.mark.parametrize("chunk", range(CONTROL_CHUNKS))
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_the_same_schedules_pass_without_a_planted_bug(schedule, chunk):
    # Without this, a checker that flags everything would pass the test above.
    overrides, budget = SCHEDULES[schedule]
    for seed in range(chunk, budget, CONTROL_CHUNKS):
        result = run_seed(seed, STEPS, **overrides)
        assert result.failure is None, result.summary()

"""The checker catches what it is meant to: each test plants one fault in an otherwise clean history."""

import copy

import pytest

from .checker import check
from .history import FAIL, OK, UNKNOWN, Attempt, History, TermSample, terms_from_log

NODES = ("n1", "n2", "n3")


def _task(task_id: str, title: str, version: int = 1, seq: int = 1) -> dict:
    return {"id": task_id, "title": title, "version": version, "completed": False, "seq": seq}


def _write(h: History, kind: str, start: float, end: float, *, task: str, title=None, version=None, **kw):
    op = h.new_op(0, kind, start, task=task, title=title, key=f"k{len(h.ops)}")
    op.end, op.version = end, version
    op.outcome = kw.get("outcome", OK)
    status = kw.get("status", {"create": 201}.get(kind, 200) if op.outcome == OK else 0)
    op.status = status
    op.attempts.append(Attempt(kw.get("node", "n1"), start, end, status))
    return op


def _read(h: History, start: float, end: float, seen: dict[str, int]):
    op = h.new_op(1, "read", start)
    op.end, op.outcome, op.status, op.read_start, op.seen = end, OK, 200, start, seen
    op.attempts.append(Attempt("n2", start, end, 200))
    return op


def clean_history() -> History:
    """Three creates, an update, a delete, strong reads that see all of it, one leader per term."""
    h = History()
    _write(h, "create", 0.0, 0.1, task="a", title="t-a", version=1)
    _write(h, "create", 0.2, 0.3, task="b", title="t-b", version=1)
    _write(h, "create", 0.2, 0.35, task="c", title="t-c", version=1)
    _read(h, 0.4, 0.45, {"a": 1, "b": 1, "c": 1})
    _write(h, "update", 0.5, 0.6, task="a", title="t-a2", version=2)
    _write(h, "delete", 0.7, 0.8, task="c")
    _read(h, 0.9, 1.0, {"a": 2, "b": 1})
    # a create whose outcome stayed unknown and that did not land: allowed
    _write(h, "create", 1.1, 16.1, task=None, title="t-d", outcome=UNKNOWN)
    final = [_task("a", "t-a2", 2, 1), _task("b", "t-b", 1, 2)]
    h.final = {node: copy.deepcopy(final) for node in NODES}
    h.terms = [
        TermSample("n1", 1.0, 1, "leader", "status"),
        TermSample("n2", 1.0, 1, "follower", "status"),
        TermSample("n2", 2.0, 2, "leader", "status"),
        TermSample("n1", 3.0, 2, "follower", "status"),
        TermSample("n1", 0.0, 3, "leader", "log"),
    ]
    return h


def test_a_clean_history_passes():
    report = check(clean_history(), seed=5)
    assert report.ok, report.failure_text()
    figures = report.figures()
    assert figures["acked_writes"] == 5 and figures["strong_reads"] == 2
    assert figures["max_leaders_per_term"] == 1 and figures["terms_with_leader"] == 3
    assert "RESULT: OK" in report.table()


def _planted(mutate) -> History:
    h = clean_history()
    mutate(h)
    return h


def _drop_everywhere(h: History, task_id: str) -> None:
    for tasks in h.final.values():
        tasks[:] = [t for t in tasks if t["id"] != task_id]


def _add_everywhere(h: History, task: dict) -> None:
    for tasks in h.final.values():
        tasks.append(copy.deepcopy(task))


def _set_version(h: History, task_id: str, version: int, title: str | None = None) -> None:
    for tasks in h.final.values():
        for t in tasks:
            if t["id"] == task_id:
                t["version"] = version
                t["title"] = title or t["title"]


PLANTED = {
    # an acknowledged create missing at the end (never deleted)
    "acked create lost": ("lost", lambda h: _drop_everywhere(h, "b")),
    # an acknowledged update whose effect is gone: the end holds the version before it
    "acked update lost": ("lost", lambda h: _set_version(h, "a", 1, "t-a")),
    # an acknowledged delete undone
    "acked delete undone": ("lost", lambda h: _add_everywhere(h, _task("c", "t-c", 1, 3))),
    # a task a strong read saw, created with an unknown outcome, then gone without a delete
    "observed task lost": (
        "lost",
        lambda h: _read(h, 20.0, 20.1, {"a": 2, "b": 1, "x": 1}),
    ),
    # an update of an acknowledged, undeleted task answered 404
    "acked task answered 404": (
        "lost",
        lambda h: _write(h, "update", 2.0, 2.1, task="b", title="t-b2", outcome=FAIL, status=404),
    ),
    # one create present twice
    "create applied twice": ("duplicate", lambda h: _add_everywhere(h, _task("b2", "t-b", 1, 4))),
    # an update applied twice: version 3 after one update
    "update applied twice": ("duplicate", lambda h: _set_version(h, "a", 3)),
    # a task nobody created
    "phantom task": ("duplicate", lambda h: _add_everywhere(h, _task("z", "nobody wrote this", 1, 5))),
    # a strong read that began after the create of b was acknowledged, without b
    "stale read misses a create": ("stale_read", lambda h: _read(h, 0.31, 0.32, {"a": 1})),
    # a strong read showing the version before an acknowledged update
    "stale read shows an old version": (
        "stale_read",
        lambda h: _read(h, 0.65, 0.7, {"a": 1, "b": 1, "c": 1}),
    ),
    # a strong read still showing a task whose delete was acknowledged
    "stale read shows a deleted task": (
        "stale_read",
        lambda h: _read(h, 0.85, 0.86, {"a": 2, "b": 1, "c": 1}),
    ),
    # two leaders in one term: one seen in /status, the other in its log
    "two leaders in a term": (
        "two_leaders",
        lambda h: h.terms.append(TermSample("n3", 0.0, 2, "leader", "log")),
    ),
    # a node whose final state differs
    "divergent node": ("divergence", lambda h: h.final["n3"].pop()),
    "silent node": ("divergence", lambda h: h.final.update(n2=None)),
    # the cluster never settled after the heal (here: a commit some node never applied)
    "no convergence": (
        "not_converged",
        lambda h: setattr(h, "not_converged", "timed out waiting for every node to hold the same state"),
    ),
    # a term going down on one node
    "term regression": (
        "term_regression",
        lambda h: h.terms.append(TermSample("n1", 4.0, 1, "follower", "status")),
    ),
    # a 500 during the run
    "server error": (
        "unexpected_status",
        lambda h: _write(h, "create", 3.0, 3.1, task=None, title="t-e", outcome=FAIL, status=500),
    ),
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_planted_fault_is_caught_and_named(name):
    rule, mutate = PLANTED[name]
    report = check(_planted(mutate), seed=42)
    rules = {v.rule for v in report.violations}
    assert rule in rules, f"{name}: expected a {rule} violation, got {report.failure_text() or 'none'}"
    text = report.failure_text()
    assert text.startswith("seed 42:") and f"[{rule}]" in text
    assert f"RESULT: {len(report.violations)} VIOLATION(S)" in report.table()


def test_the_excerpt_shows_the_operations_that_break_the_rule():
    report = check(_planted(lambda h: _read(h, 0.31, 0.32, {"a": 1})), seed=1)
    (violation,) = [v for v in report.violations if v.rule == "stale_read"]
    lines = violation.render(0.0).splitlines()
    assert "create" in lines[1] and "'t-b'" in lines[1]  # the acknowledged write
    assert "read" in lines[2] and "-> 1 tasks" in lines[2]  # the read that missed it


def test_an_unknown_update_may_land_after_the_last_acknowledged_one():
    def late_unknown_update(h):
        # sent before the acknowledged update, timed out, applied after it: not a lost update
        op = _write(h, "update", 0.45, 15.45, task="a", title="t-a-late", outcome=UNKNOWN)
        op.start = 0.45
        _set_version(h, "a", 3, "t-a-late")

    report = check(_planted(late_unknown_update))
    assert report.ok, report.failure_text()


def test_a_create_deleted_while_a_read_ran_may_be_missing_from_it():
    def read_during_delete(h):
        # the read began after b was acknowledged, and b's delete was sent while it ran
        _read(h, 2.0, 2.3, {"a": 2})
        _write(h, "delete", 2.1, 2.2, task="b")
        _drop_everywhere(h, "b")

    report = check(_planted(read_during_delete))
    assert report.ok, report.failure_text()


def test_role_lines_of_a_node_log_become_term_samples():
    text = (
        "2026-01-01 00:00:00,000 INFO    node4000 todonode.node: node node4000 starting: term 3, log 1..9\n"
        "2026-01-01 00:00:00,100 INFO    node4000 todonode.node: role follower, term 3, leader unknown\n"
        "2026-01-01 00:00:01,000 INFO    node4000 todonode.node: role leader, term 4, leader node4000\n"
    )
    samples = terms_from_log("node4000", text)
    assert [(s.term, s.role) for s in samples] == [(3, "starting"), (3, "follower"), (4, "leader")]

"""The checker: reads a chaos run's history and says which promise of SPEC §2 broke, with the evidence.

Rules (each violation names one of them):

- ``lost``: an acknowledged create whose task is missing at the end although no delete of it was ever
  sent; an acknowledged update whose effect is missing (the final version is lower, or equal with
  another title); an acknowledged delete whose task is back; a task a strong read saw, missing at the
  end with no delete sent; a write answered 404 for a task whose create was acknowledged and never
  deleted.
- ``duplicate``: one create (unique title) present more than once; a task no client created; a task
  whose version is higher than one plus the updates ever sent for it.
- ``stale_read``: a strong read that began after a write was acknowledged and does not reflect it (an
  acknowledged create missing, unless a delete of it was sent before the read ended; a version older
  than an acknowledged update; a task whose delete was acknowledged still there).
- ``divergence``: after the final heal, a node whose task list differs from the others' (or that did
  not answer).
- ``not_converged``: after the final heal the cluster did not settle in the time allowed: no leader
  every node agrees on, a committed entry some node has not applied, or task lists that differ.
- ``two_leaders``: two nodes that said (in ``/status`` or in their log) they led in the same term.
- ``term_regression``: a node whose term went down (status samples in order; log lines in order).
- ``unexpected_status``: an answer no fault can explain: a 5xx other than 503/507, a 422
  idempotency_key_reused, any other 4xx a valid request cannot get.

The final state checked against the writes is the one most nodes agree on. The checker is pure: a
``History`` in, a ``Report`` out; the tests feed it planted histories to prove each rule can fail.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from .history import History, Op

RULES = (
    "lost",
    "duplicate",
    "stale_read",
    "divergence",
    "not_converged",
    "two_leaders",
    "term_regression",
    "unexpected_status",
)
_EXPECTED_STATUSES = {0, 200, 201, 404, 421, 429, 503, 507}


@dataclass
class Violation:
    rule: str
    message: str
    ops: list[Op] = field(default_factory=list)  # the history excerpt that breaks the rule

    def render(self, t0: float) -> str:
        lines = [f"[{self.rule}] {self.message}"]
        lines += ["    " + op.line(t0) for op in self.ops[:12]]
        return "\n".join(lines)


@dataclass
class Report:
    history: History
    violations: list[Violation]
    leaders: dict[int, set[str]]  # term -> every node that said it led in it
    divergent: list[str]
    final_tasks: int
    seed: int | None = None
    profile: str = ""
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.violations

    def count(self, rule: str) -> int:
        return sum(1 for v in self.violations if v.rule == rule)

    # ----------------------------------------------------------------------------------- figures

    def figures(self) -> dict[str, Any]:
        ops = self.history.ops
        by_kind = Counter(op.kind for op in ops)
        by_outcome = Counter(op.outcome for op in ops)
        faults = Counter(f.kind for f in self.history.faults if f.injected)
        return {
            "operations": len(ops),
            "by_kind": dict(by_kind),
            "by_outcome": dict(by_outcome),
            "attempts": sum(len(op.attempts) for op in ops),
            "acked_writes": sum(1 for op in ops if op.is_write and op.acked),
            "strong_reads": sum(1 for op in ops if op.kind == "read" and op.acked),
            "faults": dict(faults),
            "terms_with_leader": len(self.leaders),
            "max_leaders_per_term": max((len(v) for v in self.leaders.values()), default=0),
            **{rule: self.count(rule) for rule in RULES},
            "divergent_nodes": len(self.divergent),
            "final_tasks": self.final_tasks,
        }

    def table(self) -> str:
        f = self.figures()
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(f["by_kind"].items()))
        outcomes = " / ".join(str(f["by_outcome"].get(o, 0)) for o in ("ok", "fail", "unknown"))
        faults = ", ".join(f"{k} {v}" for k, v in sorted(f["faults"].items())) or "none"
        leaders = _leaders_line(self.leaders)
        head = "chaos run"
        if self.seed is not None:
            head += f" — seed {self.seed}"
        if self.profile:
            head += f", profile {self.profile}"
        if self.duration_s:
            head += f", {self.duration_s:.0f} s of faults"
        rows = [
            ("operations", f"{f['operations']}  ({kinds}; {f['attempts']} HTTP attempts)"),
            ("  ok / fail / unknown", outcomes),
            ("acknowledged writes", f["acked_writes"]),
            ("strong reads checked", f["strong_reads"]),
            ("faults injected", f"{sum(f['faults'].values())}  ({faults})"),
            ("lost", f["lost"]),
            ("duplicated", f["duplicate"]),
            ("stale strong reads", f["stale_read"]),
            ("divergent nodes", f["divergent_nodes"]),
            ("converged after the heal", "no" if f["not_converged"] else "yes"),
            ("leaders per term", leaders),
            ("term regressions", f["term_regression"]),
            ("unexpected statuses", f["unexpected_status"]),
            ("tasks at the end", f["final_tasks"]),
        ]
        width = max(len(name) for name, _ in rows)
        out = [head, "-" * len(head)]
        out += [f"{name:<{width}}  {value}" for name, value in rows]
        out.append("RESULT: " + ("OK" if self.ok else f"{len(self.violations)} VIOLATION(S)"))
        return "\n".join(out)

    def failure_text(self, limit: int = 8) -> str:
        """The seed and, per broken rule, the history excerpt that breaks it."""
        if self.ok:
            return ""
        out = [f"seed {self.seed}: {len(self.violations)} violation(s)"]
        shown: Counter[str] = Counter()
        for v in self.violations:
            shown[v.rule] += 1
            if shown[v.rule] <= limit:
                out.append(v.render(self.history.t0))
        for rule, n in shown.items():
            if n > limit:
                out.append(f"[{rule}] ... and {n - limit} more")
        return "\n".join(out)


def _leaders_line(leaders: dict[int, set[str]]) -> str:
    if not leaders:
        return "no leader seen"
    most = max(len(v) for v in leaders.values())
    terms = sorted(leaders)
    listing = " ".join(f"{t}:{'+'.join(sorted(leaders[t]))}" for t in terms[:12])
    more = f" … ({len(terms) - 12} more)" if len(terms) > 12 else ""
    return f"max {most} over {len(terms)} terms  [{listing}{more}]"


# ======================================================================================= the check


def check(history: History, *, seed: int | None = None, profile: str = "", duration_s: float = 0.0) -> Report:
    violations: list[Violation] = []
    final, divergent, divergence = _final_state(history)
    violations += divergence
    if history.not_converged is not None:
        violations.append(Violation("not_converged", history.not_converged))
    violations += _unexpected_statuses(history)
    violations += _lost_and_duplicated(history, final)
    violations += _stale_reads(history)
    leaders, election = _election_safety(history)
    violations += election
    violations += _term_regressions(history)
    return Report(
        history,
        violations,
        leaders,
        divergent,
        len(final or {}),
        seed=seed,
        profile=profile,
        duration_s=duration_s,
    )


def _canonical(tasks: list[dict[str, Any]]) -> str:
    return json.dumps(sorted(tasks, key=lambda t: t.get("id", "")), sort_keys=True)


def _final_state(history: History) -> tuple[dict[str, dict[str, Any]] | None, list[str], list[Violation]]:
    """The state most nodes hold (id -> task), the nodes that hold another one, and the violations."""
    answered = {node: tasks for node, tasks in history.final.items() if tasks is not None}
    if not answered:
        silent = sorted(history.final)
        return None, silent, [Violation("divergence", f"no node answered after the final heal: {silent}")]
    forms = {node: _canonical(tasks) for node, tasks in answered.items()}
    common, _ = Counter(forms.values()).most_common(1)[0]
    reference = next(node for node, form in forms.items() if form == common)
    final = {t["id"]: t for t in answered[reference]}
    divergent, violations = [], []
    for node, tasks in sorted(history.final.items()):
        if tasks is None:
            divergent.append(node)
            violations.append(Violation("divergence", f"{node} did not answer GET /tasks after the heal"))
        elif forms[node] != common:
            divergent.append(node)
            violations.append(Violation("divergence", f"{node}: {_difference(final, tasks, reference)}"))
    return final, divergent, violations


def _difference(reference: dict[str, dict[str, Any]], tasks: list[dict[str, Any]], ref_node: str) -> str:
    mine = {t["id"]: t for t in tasks}
    missing = sorted(set(reference) - set(mine))
    extra = sorted(set(mine) - set(reference))
    changed = sorted(i for i in set(mine) & set(reference) if mine[i] != reference[i])
    parts = [f"{len(tasks)} tasks vs {len(reference)} on {ref_node}"]
    if missing:
        parts.append(f"missing {len(missing)} (e.g. {reference[missing[0]].get('title')!r})")
    if extra:
        parts.append(f"{len(extra)} extra (e.g. {mine[extra[0]].get('title')!r})")
    if changed:
        i = changed[0]
        parts.append(
            f"{len(changed)} differ (e.g. {i[:8]}: v{mine[i].get('version')} {mine[i].get('title')!r} vs "
            f"v{reference[i].get('version')} {reference[i].get('title')!r})"
        )
    return "; ".join(parts)


def _unexpected_statuses(history: History) -> list[Violation]:
    out = []
    for op in history.ops:
        for a in op.attempts:
            if a.status not in _EXPECTED_STATUSES:
                out.append(Violation("unexpected_status", f"{a.node} answered {a.status} {a.error}", [op]))
    return out


def _lost_and_duplicated(history: History, final: dict[str, dict[str, Any]] | None) -> list[Violation]:
    if final is None:
        return []
    out: list[Violation] = []
    ops_by_task: dict[str, list[Op]] = defaultdict(list)
    creates_by_title: dict[str, Op] = {}
    for op in history.ops:
        if op.kind == "create" and op.title is not None:
            creates_by_title[op.title] = op
        if op.task is not None and op.is_write:
            ops_by_task[op.task].append(op)
    deletes_sent = {op.task for op in history.ops if op.kind == "delete"}

    # lost: acknowledged creates, updates and deletes
    for op in history.ops:
        if not op.acked or not op.is_write:
            continue
        task = final.get(op.task or "")
        if op.kind == "create" and task is None and op.task not in deletes_sent:
            out.append(Violation("lost", f"acknowledged create {op.title!r} is missing at the end", [op]))
        elif op.kind == "delete" and task is not None:
            out.append(Violation("lost", f"acknowledged delete of {op.task}: the task is back", [op]))
        elif op.kind == "update" and task is not None:
            # Another update may land after this one: one sent later, or one whose outcome is unknown
            # (a request held by a paused node can be applied long after its client gave up).
            later = [
                u
                for u in ops_by_task[op.task]
                if u.kind == "update" and u is not op and (u.start > op.start or not u.acked)
            ]
            if task["version"] < (op.version or 0):
                out.append(
                    Violation(
                        "lost",
                        f"acknowledged update to v{op.version} of {op.task}: the end holds "
                        f"v{task['version']}",
                        [op],
                    )
                )
            elif not later and (task["version"], task["title"]) != (op.version, op.title):
                out.append(
                    Violation(
                        "lost",
                        f"last update of {op.task} acknowledged v{op.version} {op.title!r}, the end holds "
                        f"v{task['version']} {task['title']!r}",
                        [op],
                    )
                )
    # lost: a write answered 404 for a task whose create was acknowledged and that nobody deleted
    acked_created = {op.task for op in history.ops if op.kind == "create" and op.acked}
    for op in history.ops:
        if (
            op.kind == "update"
            and op.task in acked_created
            and op.task not in deletes_sent
            and any(a.status == 404 for a in op.attempts)
        ):
            out.append(Violation("lost", "an update of an acknowledged, never deleted task got 404", [op]))
    # lost: seen by a strong read, gone at the end, never deleted
    seen_by: dict[str, Op] = {}
    for op in history.ops:
        if op.kind == "read" and op.acked and op.seen:
            for task_id in op.seen:
                seen_by.setdefault(task_id, op)
    for task_id, read in seen_by.items():
        if task_id not in final and task_id not in deletes_sent and task_id not in acked_created:
            out.append(
                Violation("lost", f"task {task_id} seen by a strong read is missing at the end", [read])
            )

    # duplicates
    titles = Counter(t["title"] for t in final.values())
    update_titles = {op.title for op in history.ops if op.kind == "update"}
    for title, n in titles.items():
        create = creates_by_title.get(title)
        if create is None and title not in update_titles:
            out.append(Violation("duplicate", f"a task no client created: {title!r}"))
        elif n > 1:
            out.append(Violation("duplicate", f"{title!r} is present {n} times", [create] if create else []))
    for task_id, task in final.items():
        updates = [op for op in ops_by_task.get(task_id, []) if op.kind == "update"]
        if task["version"] > 1 + len(updates):
            out.append(
                Violation(
                    "duplicate",
                    f"{task_id} is at v{task['version']} after {len(updates)} update(s) sent: a write "
                    "applied twice",
                    updates[-3:],
                )
            )
    return out


def _stale_reads(history: History) -> list[Violation]:
    """Sweep the acknowledgements and the strong reads in time order. At each read, every task whose
    create was acknowledged before the read began must be there (unless a delete of it was sent before
    the read ended), at least at its highest version acknowledged by then; no task whose delete was
    acknowledged may be."""
    reads = sorted(
        (op for op in history.ops if op.kind == "read" and op.acked and op.seen is not None),
        key=lambda op: op.read_start or op.start,
    )
    acks = sorted(
        (op for op in history.ops if op.is_write and op.acked and op.end is not None and op.task),
        key=lambda op: op.end,
    )
    delete_sent: dict[str, float] = {}
    for op in history.ops:
        if op.kind == "delete" and op.task is not None:
            delete_sent[op.task] = min(op.start, delete_sent.get(op.task, op.start))
    ack_times = [op.end for op in acks]
    live: dict[str, Op] = {}  # task -> the ack that sets the version it must at least have
    deleted: dict[str, Op] = {}
    out: list[Violation] = []
    done = 0
    for read in reads:
        began = read.read_start or read.start
        upto = bisect.bisect_left(ack_times, began)
        for op in acks[done:upto]:
            if op.kind == "delete":
                live.pop(op.task, None)
                deleted[op.task] = op
            elif op.task not in deleted:
                current = live.get(op.task)
                if current is None or (op.version or 0) >= (current.version or 0):
                    live[op.task] = op
        done = max(done, upto)
        seen = read.seen or {}
        for task_id, write in live.items():
            got = seen.get(task_id)
            if got is None:
                if delete_sent.get(task_id, float("inf")) < (read.end or began):
                    continue
                out.append(
                    Violation(
                        "stale_read",
                        f"strong read #{read.id} misses task {task_id[:8]} acknowledged "
                        f"{began - (write.end or 0):.3f} s before it began",
                        [write, read],
                    )
                )
            elif got < (write.version or 0):
                out.append(
                    Violation(
                        "stale_read",
                        f"strong read #{read.id} shows {task_id[:8]} at v{got}, v{write.version} was "
                        "acknowledged before it began",
                        [write, read],
                    )
                )
        for task_id in seen:
            if task_id in deleted:
                out.append(
                    Violation(
                        "stale_read",
                        f"strong read #{read.id} still shows {task_id[:8]}, whose delete was acknowledged "
                        "before it began",
                        [deleted[task_id], read],
                    )
                )
    return out


def _election_safety(history: History) -> tuple[dict[int, set[str]], list[Violation]]:
    leaders: dict[int, set[str]] = defaultdict(set)
    for s in history.terms:
        if s.role == "leader":
            leaders[s.term].add(s.node)
    out = [
        Violation("two_leaders", f"term {term} had {len(nodes)} leaders: {', '.join(sorted(nodes))}")
        for term, nodes in sorted(leaders.items())
        if len(nodes) > 1
    ]
    return dict(leaders), out


def _term_regressions(history: History) -> list[Violation]:
    out = []
    series: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for s in history.terms:
        series[(s.node, s.source)].append(s)
    for (node, source), samples in sorted(series.items()):
        samples.sort(key=lambda s: s.at)
        highest = samples[0]
        for s in samples[1:]:
            if s.term < highest.term:
                out.append(
                    Violation(
                        "term_regression",
                        f"{node}'s term went from {highest.term} to {s.term} ({source}, "
                        f"{'line' if source == 'log' else 't='} {s.at:.0f})",
                    )
                )
            if s.term > highest.term:
                highest = s
    return out

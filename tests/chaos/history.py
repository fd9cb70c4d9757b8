"""What happened during a chaos run, as the checker needs it: every client operation with its attempts,
every fault the nemesis injected, what the nodes said about their role and term, and the final state.

Times are ``time.monotonic()`` seconds of the test process, where every client runs, so "this read
started after that write was acknowledged" is a comparison of two numbers. Nothing here does I/O
except ``History.dump`` (a post-mortem file).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"
WRITES = ("create", "update", "delete")


@dataclass(slots=True)
class Attempt:
    """One HTTP request of an operation. ``status`` 0 means no answer (refused, reset, timed out)."""

    node: str  # the node the request was sent to
    start: float
    end: float
    status: int
    error: str | None = None  # the error code of the answer, or the client-side exception
    served_by: str | None = None  # X-Todonode-Node of the answer


@dataclass(slots=True)
class Op:
    """One logical client operation; a write keeps its Idempotency-Key over every retry.

    ``outcome``: ``ok`` (acknowledged: 2xx), ``fail`` (a definite refusal, e.g. 404, or a read that got no
    answer), or ``unknown`` (a write that may or may not have been applied: no attempt was acknowledged).
    """

    id: int
    client: int
    kind: str  # create | update | delete | read
    start: float
    task: str | None = None  # the task's id: given for update/delete, learned from the ack of a create
    title: str | None = None  # create and update: unique in the whole run
    key: str | None = None  # Idempotency-Key
    end: float | None = None
    outcome: str = UNKNOWN
    status: int = 0  # of the last attempt
    version: int | None = None  # the task's version in the acknowledgement (create: 1)
    attempts: list[Attempt] = field(default_factory=list)
    # reads: every task the read returned, id -> version; and when the answering attempt began
    seen: dict[str, int] | None = None
    read_start: float | None = None

    @property
    def acked(self) -> bool:
        return self.outcome == OK

    @property
    def is_write(self) -> bool:
        return self.kind in WRITES

    def line(self, t0: float = 0.0) -> str:
        """One readable line for a report."""
        end = "…" if self.end is None else f"{self.end - t0:8.3f}"
        what = self.kind
        if self.task:
            what += f" {self.task[:8]}"
        if self.title:
            what += f" {self.title!r}"
        if self.version is not None:
            what += f" v{self.version}"
        if self.seen is not None:
            what += f" -> {len(self.seen)} tasks"
        nodes = ",".join(f"{a.node}:{a.status or a.error}" for a in self.attempts[-4:])
        return (
            f"#{self.id:<6} c{self.client:<2} {self.start - t0:8.3f}..{end} {self.outcome:<7} {what} "
            f"[{len(self.attempts)} attempt(s) {nodes}]"
        )


@dataclass(slots=True)
class Fault:
    kind: str
    targets: list[str]
    start: float
    end: float | None = None
    detail: str = ""
    # True once the fault really struck: a running process killed or stopped, a route or link cut.
    # A victim that was already down, or a run stopped first, leaves it False.
    injected: bool = False

    def line(self, t0: float = 0.0) -> str:
        end = "…" if self.end is None else f"{self.end - t0:.3f}"
        missed = "" if self.injected else " (not injected)"
        return (
            f"fault {self.kind} {','.join(self.targets)} {self.start - t0:.3f}..{end} {self.detail}".rstrip()
            + missed
        )


@dataclass(frozen=True, slots=True)
class TermSample:
    """What a node said about itself: from ``/status`` (in the order sampled) or from its log (in the
    order written; the log is appended to across restarts)."""

    node: str
    at: float  # monotonic time for status samples, the line number for log lines
    term: int
    role: str
    source: str  # "status" or "log"


@dataclass
class History:
    t0: float = 0.0
    ops: list[Op] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    terms: list[TermSample] = field(default_factory=list)
    # after the final heal: node -> its tasks (GET /tasks), or None if it did not answer
    final: dict[str, list[dict[str, Any]] | None] = field(default_factory=dict)
    # after the final heal: why the cluster never settled (no agreed leader, a commit not applied
    # everywhere, different task lists), or None when it did
    not_converged: str | None = None

    def new_op(self, client: int, kind: str, start: float, **fields: Any) -> Op:
        op = Op(len(self.ops), client, kind, start, **fields)
        self.ops.append(op)
        return op

    def dump(self, path: Path) -> None:
        """Everything, as JSON lines, for a post-mortem."""
        with open(path, "w") as f:
            for op in self.ops:
                f.write(json.dumps({"op": asdict(op)}) + "\n")
            for fault in self.faults:
                f.write(json.dumps({"fault": asdict(fault)}) + "\n")
            for sample in self.terms:
                f.write(json.dumps({"term": asdict(sample)}) + "\n")
            f.write(json.dumps({"final": self.final, "not_converged": self.not_converged}) + "\n")


# What a node's log says about its role: "role leader, term 7, leader node4000", and at start-up
# "node node4000 starting: term 7, ...". The log format puts the node id before the logger name.
_ROLE_LINE = re.compile(r"role (\w+), term (\d+)")
_START_LINE = re.compile(r"node (\S+) starting: term (\d+)")


def terms_from_log(node: str, text: str) -> list[TermSample]:
    """Every role change and start-up a node logged, in order."""
    out = []
    for n, line in enumerate(text.splitlines()):
        if m := _ROLE_LINE.search(line):
            out.append(TermSample(node, float(n), int(m[2]), m[1], "log"))
        elif m := _START_LINE.search(line):
            out.append(TermSample(node, float(n), int(m[2]), "starting", "log"))
    return out

"""The messages a node sends its peers, counted per peer, kind and fate over a short interval: what the
dashboard draws in demo mode (transport.py counts them, node/demo.py reports them). A busy cluster
sends thousands of messages a second; counts per interval keep the picture readable and the report
small.

The kinds are the ones a student learns: appends and their acknowledgements (or rejections),
heartbeats and their answers, commit notices, (pre-)votes asked, granted and refused, snapshots.
The fate is what became of a message as it left: sent, dropped by the demo's cut-off, or lost because
the stream to that peer is down.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .raft import (
    AppendEntries,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    Message,
    ReadIndexRequest,
    ReadIndexResponse,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)

SENT, DROPPED, LOST = "sent", "dropped", "lost"


def kind_of(m: Message) -> str:
    """The kind of ``m`` as the dashboard names it."""
    match m:
        case AppendEntries():
            return "append"
        case AppendResponse():
            return "ack" if m.success else "reject"
        case Heartbeat():
            return "commit" if m.is_commit_notice else "heartbeat"
        case HeartbeatResponse():
            return "heartbeat_ack"
        case VoteRequest():
            return "prevote" if m.pre_vote else "vote"
        case VoteResponse():
            answer = "granted" if m.granted else "refused"
            return f"prevote_{answer}" if m.pre_vote else f"vote_{answer}"
        case InstallSnapshot():
            return "snapshot"
        case TimeoutNow():
            return "timeout_now"
        case ReadIndexRequest() | ReadIndexResponse():
            return "read_index"
    return m.kind


class Traffic:
    """Counts since the last ``drain``, keyed by (peer, kind, fate)."""

    def __init__(self) -> None:
        self._counts: defaultdict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])

    def count(self, m: Message, fate: str) -> None:
        counted = self._counts[(m.dst, kind_of(m), fate)]
        counted[0] += 1
        if isinstance(m, AppendEntries):
            counted[1] += len(m.entries)

    def drain(self) -> list[dict[str, Any]]:
        """What was counted since the last call, as JSON-ready rows; the counts start again from zero."""
        counts, self._counts = self._counts, defaultdict(lambda: [0, 0])
        return [
            {"to": to, "kind": kind, "fate": fate, "n": n, "entries": entries}
            for (to, kind, fate), (n, entries) in sorted(counts.items())
        ]

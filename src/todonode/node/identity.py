"""The cluster's identity at run time: which cluster this node belongs to, and refusing peers and
snapshots that belong to another.

- **The id.** Made once per cluster: the first leader of a cluster at ``IDENTITY_VERSION`` proposes a
  random one (``cluster_state.set_id_command``), and every node learns it by applying that entry, or
  from a snapshot. A node that joined a running cluster knows it from its MEMBER file before either
  arrives (storage/member_file.py). A node that knows none yet — a cluster just bootstrapped, before
  its first leader's entry is applied — refuses nobody.
- **Peers.** Every stream a node opens announces its cluster id (``X-Todonode-Cluster``); a node that
  knows another id refuses the stream, and says so in its log once per peer and id.
- **Snapshots.** A snapshot carries the cluster facts (``"cluster"``, just before the ``"raft"``
  header, see storage/snapshots.py). One from another cluster is dropped before the core sees it, so
  it can never replace this node's state.
"""

from __future__ import annotations

import logging
import uuid

import orjson

from ..cluster_state import IDENTITY_VERSION, KEY, SET_ID, ClusterState, is_cluster_command, set_id_command
from ..raft import Accepted, EntryKind, RaftNode, Role
from ..storage import RAFT_KEY
from .applied import AppliedState

log = logging.getLogger("todonode.node")


class ClusterIdentity:
    def __init__(self, core: RaftNode, applied: AppliedState, joined: str | None) -> None:
        """``joined``: the cluster id the MEMBER file names, for a node that joined a running cluster."""
        self._core = core
        self._applied = applied
        # Until the entries recovery replays are applied again, the id may sit among them: a node must
        # announce it from its first stream on, or a peer of another cluster would take it in.
        self._joined = joined or _committed_id(core, applied.index)
        self._proposed_in: int | None = None  # the term in which this leader proposed an id
        self._refused: set[tuple[str, str]] = set()  # (peer, its cluster id) already logged

    @property
    def cluster_id(self) -> str | None:
        return self._applied.cluster.cluster_id or self._joined

    def maybe_propose(self) -> bool:
        """On the leader of a cluster without an id: propose one, once a term. True when it did."""
        core, applied = self._core, self._applied
        if (
            core.role is not Role.LEADER
            or self.cluster_id is not None
            or applied.cluster.version < IDENTITY_VERSION
            or applied.index < core.commit
            or self._proposed_in == core.term
        ):
            return False
        if not isinstance(core.propose(orjson.dumps(set_id_command(uuid.uuid4().hex))), Accepted):
            return False
        self._proposed_in = core.term
        log.info("this cluster has no id yet: proposing one")
        return True

    def refuse_peer(self, peer: str, announced: str | None) -> str | None:
        """Why a stream from ``peer``, announcing cluster ``announced``, is refused; None to accept it."""
        ours = self.cluster_id
        if ours is None or announced is None or announced == ours:
            return None
        why = f"{peer} belongs to cluster {announced}, and this node to cluster {ours}"
        if (peer, announced) not in self._refused:
            self._refused.add((peer, announced))
            log.warning("refusing the streams of %s: %s (is its config from another cluster?)", peer, why)
        return why

    def refuse_snapshot(self, peer: str, data: bytes) -> bool:
        """True (and logged) when the snapshot ``peer`` sent belongs to another cluster."""
        theirs = snapshot_cluster_id(data)
        ours = self.cluster_id
        if ours is None or theirs is None or theirs == ours:
            return False
        log.warning("dropped a snapshot from %s: it is of cluster %s, not %s", peer, theirs, ours)
        return True


def _committed_id(core: RaftNode, applied: int) -> str | None:
    """The cluster id a committed entry not applied yet sets, if one does."""
    marker = f'"op":"{SET_ID}"'.encode()
    for entry in core.log.entries(applied + 1, core.commit) if core.commit > applied else ():
        if entry.kind is EntryKind.COMMAND and marker in entry.data:
            command = orjson.loads(entry.data)
            if is_cluster_command(command):
                state = ClusterState({})
                state.apply(command)
                return state.cluster_id
    return None


def snapshot_cluster_id(data: bytes) -> str | None:
    """The cluster id a snapshot's bytes carry, read from their end alone: the state's keys come first,
    then the cluster facts, then the ``"raft"`` header (storage/snapshots.py), and a snapshot of
    100,000 tasks is too large to decode on the event loop just for this. None when it has none."""
    marker = b'"' + KEY.encode() + b'":'
    start = data.rfind(b"," + marker)
    if start < 0:
        if not data.startswith(b"{" + marker):
            return None
        start = 0
    try:
        tail = orjson.loads(b"{" + data[start + 1 :])
    except orjson.JSONDecodeError:
        return None  # the key was inside a task's data, not the top-level facts
    facts = tail.get(KEY) if isinstance(tail, dict) and set(tail) == {KEY, RAFT_KEY} else None
    found = facts.get("id") if isinstance(facts, dict) else None
    return found if isinstance(found, str) else None

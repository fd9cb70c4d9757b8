"""One frozen picture of a node: ``Node.status()`` returns it, and everything that reports on the node
reads it — ``/status``, ``/cluster/status``, ``/ready``, ``/metrics``, the event stream, the page's
cluster panel. Nothing outside the node runtime looks at the Raft core or the transport directly, so
each fact (who leads, how far a peer has replicated, how many nodes a write needs) is worked out here
once, and every report agrees.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..raft import RaftNode, Role
from ..transport import PeerTransport
from ..versions import Announcement
from .versioning import VersionStatus


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """Another member, as this node sees it."""

    id: str
    url: str
    voter: bool
    reachable: bool
    last_contact_ms: int | None  # since something last arrived from it; None if nothing ever did
    # Known on the leader only: how far the peer's log matches the leader's, and how the leader is
    # sending to it (probe, replicate or snapshot).
    match_index: int | None
    replication: str | None
    announced: Announcement | None  # its release and cluster versions, while its stream is open


@dataclass(frozen=True, slots=True)
class QuorumStatus:
    """How many nodes a write needs, and how many this node can reach (itself included)."""

    voters: int
    needed: int
    reachable: int
    met: bool  # enough voters are reachable to accept writes


@dataclass(frozen=True, slots=True)
class MembershipStatus:
    """This node's place in the cluster, and what the log says about its members (node/members.py)."""

    role: str  # "voter", "learner", "joining" (no configuration yet) or "removed"
    retired: tuple[str, ...]  # ids removed by committed changes: never members again
    kept_learners: tuple[str, ...]  # learners added to stay learners
    promote_lag: int  # a learner this many entries behind the leader, or fewer, is promoted
    config_disagreement: str | None  # how the config file differs from the log's members


@dataclass(frozen=True, slots=True)
class NodeStatus:
    id: str
    url: str
    role: Role
    term: int
    leader_id: str | None
    leader_url: str | None
    commit_index: int
    applied_index: int
    last_index: int
    snapshot_index: int
    last_leader_contact: float | None  # wall-clock time; now, on the leader
    storage_error: str | None
    members: tuple[str, ...]  # every member's id, this node's included, in the order of the config
    peers: tuple[PeerStatus, ...]  # the other members, in that order
    quorum: QuorumStatus
    versions: VersionStatus
    cluster_id: str | None = None  # None until this node knows it (node/identity.py)
    membership: MembershipStatus | None = None
    demo: bool = False  # runs in demo mode: the page offers fault controls (api/demo.py)

    @property
    def is_leader(self) -> bool:
        return self.role is Role.LEADER

    def lag(self, peer: PeerStatus) -> int | None:
        """Entries ``peer`` is behind this leader's log (None where unknown)."""
        return None if peer.match_index is None else self.last_index - peer.match_index


def capture(
    core: RaftNode,
    transport: PeerTransport,
    members: dict[str, str],
    *,
    applied_index: int,
    last_leader_contact: float | None,
    storage_error: str | None,
    tick_ms: int,
    versions: VersionStatus,
    cluster_id: str | None = None,
    membership: MembershipStatus | None = None,
    demo: bool = False,
) -> NodeStatus:
    """The status of the node whose parts these are, at this moment."""
    progress = {p.node_id: p for p in core.status().peers}  # filled in on the leader only
    voters = core.config.voters
    peers = []
    for member, url in members.items():
        if member == core.id:
            continue
        p = progress.get(member)
        contact = transport.last_contact_ms(member)
        if p is not None and p.last_contact_ticks is not None:
            contact = p.last_contact_ticks * tick_ms  # the leader's own clock knows better
        peers.append(
            PeerStatus(
                id=member,
                url=url,
                voter=member in voters,
                reachable=transport.is_reachable(member),
                last_contact_ms=None if contact is None else round(contact),
                match_index=p.match if p else None,
                replication=p.state if p else None,
                announced=versions.peers.get(member),
            )
        )
    leading = core.role is Role.LEADER
    return NodeStatus(
        id=core.id,
        url=members.get(core.id, ""),
        role=core.role,
        term=core.term,
        leader_id=core.leader,
        leader_url=members.get(core.leader or ""),
        commit_index=core.commit,
        applied_index=applied_index,
        last_index=core.log.last_index,
        snapshot_index=core.log.snapshot_index,
        last_leader_contact=time.time() if leading else last_leader_contact,
        storage_error=storage_error,
        members=tuple(members),
        peers=tuple(peers),
        quorum=quorum(core, transport),
        versions=versions,
        cluster_id=cluster_id,
        membership=membership,
        demo=demo,
    )


def quorum(core: RaftNode, transport: PeerTransport) -> QuorumStatus:
    """The quorum facts alone: cheap enough to check before every write."""
    if not core.config.voters:
        return QuorumStatus(voters=0, needed=1, reachable=0, met=False)  # joining: no voter known yet
    majority = core.config.majority()
    reachable = [v for v in majority.voters if v == core.id or transport.is_reachable(v)]
    return QuorumStatus(
        voters=len(majority.voters),
        needed=majority.quorum,
        reachable=len(reachable),
        met=majority.has_quorum(reachable),
    )

"""The cluster version at run time: what peers announce, when the leader moves the cluster to a newer
version, what a node does once it has, and which peers are too old to take part.

- **Announcements.** Every stream a peer opens to this node carries the peer's release and the cluster
  versions it runs (versions.py). An announcement counts only while its stream stays open: a peer that
  is down, or that has just been restarted on another release, has no say until it connects again.
- **The switch.** The leader, caught up with what it knows to be committed, proposes the newest
  version that it and every voter can run, once every voter has announced and that version is newer
  than the cluster's (``cluster_state.set_version_command``). Every node learns it by applying the
  entry, in log order, or from a snapshot. So a mixed cluster stays at the version its oldest voter
  runs, and an older release can take back a node's data directory until the switch.
- **Following.** Once the applied version moves, the node writes the storage format of the new version
  from then on (its VERSION file first, see node/disk.py). A version this node cannot run stops it
  (``ClusterTooNew``): it would otherwise go on writing and reading formats the others have left.
- **Shutting out.** A peer whose newest version is older than the cluster's can no longer read what
  the cluster writes: its streams are refused, with the reason in the log, and nothing is sent to it.
  For Raft it is a node cut off by the network. Upgrading it lets it back in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import orjson

from ..cluster_state import set_version_command
from ..raft import Accepted, Message, RaftNode, Role
from ..versions import Announcement, newest_common, storage_format_of, this_node
from .applied import AppliedState
from .disk import Disk

log = logging.getLogger("todonode.node")


class PeerStream(Protocol):
    """The server side of a stream a peer opened (api/internal.py)."""

    async def close(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class VersionStatus:
    """The versions part of the node's status (node/status.py)."""

    release: str
    runs: tuple[int, int]  # the cluster versions this node runs, oldest and newest
    cluster_version: int  # as applied here
    storage_format: int  # what this node writes now
    peers: dict[str, Announcement]  # what each connected peer announced (refused ones included)


class ClusterVersioning:
    def __init__(self, core: RaftNode, applied: AppliedState, disk: Disk) -> None:
        self._core = core
        self._applied = applied
        self._disk = disk
        self._self = this_node()
        self._open: dict[str, tuple[PeerStream, Announcement]] = {}  # peer -> (open stream, announcement)
        self._shut_out: dict[str, Announcement] = {}  # peer -> what it announced when it was refused
        self._followed = applied.cluster.version
        self._proposed: tuple[int, int] | None = None  # (term, version) of this leader's last proposal

    # ================================================================================== announcements

    def stream_opened(self, peer: str, announced: Announcement, stream: PeerStream) -> str | None:
        """A stream from ``peer`` is about to open: None to accept it, or why it is refused."""
        version = self._applied.cluster.version
        if announced.high < version:
            self._shut_out_peer(peer, announced)
            return self._why_too_old(peer, announced)
        if self._shut_out.pop(peer, None) is not None:
            log.info("%s now runs todonode %s: its streams are accepted again", peer, announced.release)
        self._open[peer] = (stream, announced)
        return None

    def stream_closed(self, peer: str, stream: PeerStream) -> None:
        if peer in self._open and self._open[peer][0] is stream:
            del self._open[peer]

    def _shut_out_peer(self, peer: str, announced: Announcement) -> None:
        if self._shut_out.get(peer) != announced:
            log.warning("refusing the streams of %s: %s", peer, self._why_too_old(peer, announced))
        self._shut_out[peer] = announced

    def _why_too_old(self, peer: str, announced: Announcement) -> str:
        return (
            f"{peer} runs todonode {announced.release}, which runs cluster versions up to {announced.high}; "
            f"the cluster runs at version {self._applied.cluster.version}: upgrade {peer} to "
            f"todonode {self._self.release} or later"
        )

    def deliverable(self, messages: tuple[Message, ...]) -> tuple[Message, ...]:
        """``messages`` without those addressed to a peer that is shut out."""
        if not self._shut_out:
            return messages
        return tuple(m for m in messages if m.dst not in self._shut_out)

    # ======================================================================================== switch

    def maybe_propose(self) -> bool:
        """On the leader: propose the newest cluster version every voter runs, once, if it is newer
        than the cluster's. True when a proposal was made (the Ready loop has work)."""
        core = self._core
        if core.role is not Role.LEADER or self._applied.index < core.commit:
            return False
        announced = [self._self]
        for voter in core.config.voters:
            if voter != core.id:
                stream = self._open.get(voter)
                if stream is None:
                    return False  # a voter without a say: it may run anything
                announced.append(stream[1])
        target = newest_common(announced)
        if target is None or target <= self._applied.cluster.version or self._proposed == (core.term, target):
            return False
        if not isinstance(core.propose(orjson.dumps(set_version_command(target))), Accepted):
            return False
        self._proposed = (core.term, target)
        releases = ", ".join(sorted({a.release for a in announced}))
        log.info("every voter runs cluster version %d (releases %s): proposing it", target, releases)
        return True

    # ===================================================================================== following

    async def follow(self) -> None:
        """After applying: move to the applied cluster version's storage format, or stop if this node
        cannot run it (ClusterTooNew)."""
        version = self._applied.cluster.version
        if version == self._followed:
            return
        storage_format = storage_format_of(version)
        if storage_format > self._disk.storage_format:
            await self._disk.use_format(storage_format)
        log.info(
            "cluster version %d (was %d): writing storage format %d from now on",
            version,
            self._followed,
            self._disk.storage_format,
        )
        self._followed = version
        # A voter replaced by an older release between the proposal and now is left behind.
        for peer, (stream, announced) in list(self._open.items()):
            if announced.high < version:
                del self._open[peer]
                self._shut_out_peer(peer, announced)
                await stream.close()

    # ======================================================================================== status

    def status(self) -> VersionStatus:
        peers = {peer: announced for peer, (_, announced) in self._open.items()}
        return VersionStatus(
            release=self._self.release,
            runs=(self._self.low, self._self.high),
            cluster_version=self._applied.cluster.version,
            storage_format=self._disk.storage_format,
            peers={**self._shut_out, **peers},
        )

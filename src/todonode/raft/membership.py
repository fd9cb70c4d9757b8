"""Membership changes: how the set of voters and learners changes while the cluster runs.

What this file owns: the one change a request may make to a configuration (``config_after``) and the
configurations of one node's uncompacted log (``ConfigHistory``). The rules about *when* a change may
be proposed are in core.py, because they depend on the leader's term and commit index.

The design, after Ongaro's dissertation, chapter 4:

- Single-server changes, not joint consensus (§4.1 vs §4.3). Each change adds or removes at most one
  voter, so any majority of the configuration before it and any majority of the one after it share a
  voter: the two can never decide different things, and no joint state is needed. It is also the
  simpler of the two to get right, and the one etcd's non-joint path and hashicorp/raft use.
- Learners (§4.2.1). A new server first joins as a learner: it receives the log and snapshots but is
  never counted in a majority, so an empty newcomer cannot stall commits while it catches up. Adding a
  voter is therefore two changes — add it as a learner, promote it once caught up — and replacing one
  is three: add the new one, promote it, remove the old one.
- A configuration lives in the log as a CONFIG entry (and in snapshots, ``SnapshotMeta.config``) and
  takes effect on a server as soon as the entry is in its log, committed or not (§4.1). A server whose
  log loses the entry (a conflicting suffix is cut) goes back to the configuration before it.
- The core deals in member ids only. ``ClusterConfig.addresses`` is carried along for the runtime.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from enum import StrEnum

from .messages import ClusterConfig
from .ready import ALREADY_A_MEMBER, ALREADY_A_VOTER, LAST_VOTER, NOT_A_MEMBER, Refused


class ChangeKind(StrEnum):
    ADD_LEARNER = "add_learner"  # a new member that receives the log but does not vote
    PROMOTE = "promote"  # a learner becomes a voter
    REMOVE = "remove"  # a voter or a learner leaves


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """One change to one member. ``address`` (ADD_LEARNER only) is where the runtime will reach it."""

    kind: ChangeKind
    member: str
    address: str = ""


def config_after(config: ClusterConfig, change: ConfigChange) -> ClusterConfig | Refused:
    """The configuration that ``change`` makes of ``config``, or why it cannot be made.

    Every change touches one member, so it adds or removes at most one voter (thesis §4.1)."""
    member = change.member
    addresses = dict(config.addresses)
    if change.kind is ChangeKind.ADD_LEARNER:
        if member in config.members:
            return Refused(ALREADY_A_MEMBER)
        if change.address:
            addresses[member] = change.address
        return _config(config.voters, (*config.learners, member), addresses)
    if member not in config.members:
        return Refused(NOT_A_MEMBER)
    if change.kind is ChangeKind.PROMOTE:
        if member in config.voters:
            return Refused(ALREADY_A_VOTER)
        learners = tuple(m for m in config.learners if m != member)
        return _config((*config.voters, member), learners, addresses)
    if config.voters == (member,):
        return Refused(LAST_VOTER)
    addresses.pop(member, None)
    voters = tuple(m for m in config.voters if m != member)
    learners = tuple(m for m in config.learners if m != member)
    return _config(voters, learners, addresses)


def _config(voters: tuple[str, ...], learners: tuple[str, ...], addresses: dict[str, str]) -> ClusterConfig:
    return ClusterConfig(voters, learners, tuple(sorted(addresses.items())))


class ConfigHistory:
    """The configurations of one log, oldest first: the base (the snapshot's, or the bootstrap one)
    and then one per CONFIG entry the log still holds. The log keeps it in step with its entries, so
    going back to an earlier configuration when a suffix is cut (thesis §4.1) is a pop, not a scan."""

    def __init__(self, base_index: int, base: ClusterConfig):
        self._indexes = [base_index]
        self._configs = [base]

    @property
    def latest(self) -> ClusterConfig:
        return self._configs[-1]

    @property
    def latest_index(self) -> int:
        """The index of the latest CONFIG entry (or of the base: the snapshot's index, or 0)."""
        return self._indexes[-1]

    def at(self, index: int) -> ClusterConfig:
        """The configuration in effect once the log ends at ``index`` (the base for anything older)."""
        return self._configs[max(0, bisect_right(self._indexes, index) - 1)]

    def record(self, index: int, config: ClusterConfig) -> None:
        """A CONFIG entry was appended at ``index``."""
        self._indexes.append(index)
        self._configs.append(config)

    def truncate_from(self, index: int) -> None:
        """Entries from ``index`` on were cut: forget their configurations (never the base)."""
        while len(self._indexes) > 1 and self._indexes[-1] >= index:
            self._indexes.pop()
            self._configs.pop()

    def compact(self, index: int) -> None:
        """Entries up to ``index`` were compacted: the configuration in effect there becomes the base."""
        keep = max(0, bisect_right(self._indexes, index) - 1)
        del self._indexes[:keep]
        del self._configs[:keep]

    def reset(self, index: int, config: ClusterConfig) -> None:
        """The log was replaced by a snapshot at ``index`` whose configuration is ``config``."""
        self._indexes = [index]
        self._configs = [config]

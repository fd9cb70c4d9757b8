"""The replicated facts about the cluster itself, beside its tasks: its version, its id, and the member
ids it has retired.

The rules this module lives by (those of ``state.py``, for the same reasons):

* Pure: commands in, state out; no I/O, no clock. Every replica that applies the same log agrees.
* Commands are plain JSON-ready dicts in ``COMMAND`` log entries, told apart from task commands by
  their ``op``. 0.1.0 applies them as unknown task commands, which change nothing: an entry of this
  kind in a mixed cluster harms no older node (and is proposed only once none is left among the voters).
* ``apply`` never raises because of what a command contains, and never goes back: the cluster version
  only grows, the cluster id is set once, a retired id stays retired, so a repeated or stale proposal
  changes nothing.
* The facts live under the key ``"cluster"`` of the state's dict, so snapshots carry them. A state
  without it is at cluster version 1, as every 0.1.0 snapshot is.

The cluster id tells this cluster's nodes and snapshots from another's (node/identity.py). It is a
random id that the first leader proposes once the cluster runs at ``IDENTITY_VERSION``, so that no
node that could not read it is a voter then.

Retired ids are the members a committed configuration change removed. They are never members again: a
node that comes back under a retired id with an empty disk could have voted in a term it no longer
remembers, and acknowledgements from an old process under the same id would count for the new one. A
member that returns is added under a new id (node/members.py picks it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

KEY = "cluster"
SET_VERSION = "cluster_version"
SET_ID = "cluster_id"
KEEP_LEARNER = "keep_learner"
INITIAL_VERSION = 1
IDENTITY_VERSION = 2  # the cluster version from which the cluster has an id and changes its members
MAX_ID_CHARS = 64


def set_version_command(version: int) -> dict[str, Any]:
    """The command the leader proposes once every voter has announced that it runs ``version``."""
    return {"op": SET_VERSION, "version": version}


def set_id_command(cluster_id: str) -> dict[str, Any]:
    """The command the first leader of a cluster at ``IDENTITY_VERSION`` proposes: the cluster's id."""
    return {"op": SET_ID, "id": cluster_id}


def keep_learner_command(member: str) -> dict[str, Any]:
    """Proposed before a member is added with ``"learner": true``: it stays a learner, never promoted."""
    return {"op": KEEP_LEARNER, "id": member}


def is_cluster_command(command: Any) -> bool:
    return isinstance(command, dict) and command.get("op") in (SET_VERSION, SET_ID, KEEP_LEARNER)


class ClusterState:
    """The ``"cluster"`` part of the replicated state, kept in ``store`` (created once it is needed)."""

    def __init__(self, store: dict[str, Any]) -> None:
        self._store = store

    @property
    def _facts(self) -> dict[str, Any]:
        facts = self._store.get(KEY)
        return facts if isinstance(facts, dict) else {}

    @property
    def version(self) -> int:
        version = self._facts.get("version")
        return version if type(version) is int else INITIAL_VERSION

    @property
    def cluster_id(self) -> str | None:
        return self._facts.get("id")

    @property
    def retired(self) -> frozenset[str]:
        """Every member id a committed configuration change removed."""
        return frozenset(self._facts.get("retired", ()))

    @property
    def kept_learners(self) -> frozenset[str]:
        """Members added to stay learners: the leader never promotes them."""
        return frozenset(self._facts.get("kept_learners", ()))

    def apply(self, command: dict[str, Any]) -> None:
        """Apply a committed command for which ``is_cluster_command`` holds."""
        if command.get("op") == KEEP_LEARNER:
            member = command.get("id")
            if isinstance(member, str) and member not in self.kept_learners:
                self._set(kept_learners=sorted(self.kept_learners | {member}))
            return
        if command.get("op") == SET_ID:
            given = command.get("id")
            if self.cluster_id is None and isinstance(given, str) and 0 < len(given) <= MAX_ID_CHARS:
                self._set(id=given)
            return
        version = command.get("version")
        if type(version) is int and version > self.version:
            self._set(version=version)

    def members_changed(self, before: Iterable[str], after: Iterable[str]) -> None:
        """A committed configuration change took the members from ``before`` to ``after``."""
        gone = set(before) - set(after)
        if gone - self.retired:
            self._set(retired=sorted(self.retired | gone))

    def _set(self, **facts: Any) -> None:
        # A new dict, never a change in place: snapshots share the containers (see state.py).
        self._store[KEY] = {**self._facts, **facts}

    def snapshot(self) -> dict[str, Any]:
        """The part of a snapshot this state owns (nothing at version 1, as 0.1.0 wrote them)."""
        return {KEY: self._store[KEY]} if KEY in self._store else {}

"""The replicated facts about the cluster itself, beside its tasks: today, the cluster version.

The rules this module lives by (those of ``state.py``, for the same reasons):

* Pure: commands in, state out; no I/O, no clock. Every replica that applies the same log agrees.
* Commands are plain JSON-ready dicts in ``COMMAND`` log entries, told apart from task commands by
  their ``op``. 0.1.0 applies them as unknown task commands, which change nothing: an entry of this
  kind in a mixed cluster harms no older node (and is proposed only once none is left among the voters).
* ``apply`` never raises because of what a command contains, and never goes back: the cluster version
  only grows, so a repeated or stale proposal changes nothing.
* The facts live under the key ``"cluster"`` of the state's dict, so snapshots carry them. A state
  without it is at cluster version 1, as every 0.1.0 snapshot is.

Membership and the cluster's id belong here too when they arrive: they are facts every node must
learn in log order, and the cluster version says when their formats may be used.
"""

from __future__ import annotations

from typing import Any

KEY = "cluster"
SET_VERSION = "cluster_version"
INITIAL_VERSION = 1


def set_version_command(version: int) -> dict[str, Any]:
    """The command the leader proposes once every voter has announced that it runs ``version``."""
    return {"op": SET_VERSION, "version": version}


def is_cluster_command(command: Any) -> bool:
    return isinstance(command, dict) and command.get("op") == SET_VERSION


class ClusterState:
    """The ``"cluster"`` part of the replicated state, kept in ``store`` (created once it is needed)."""

    def __init__(self, store: dict[str, Any]) -> None:
        self._store = store

    @property
    def version(self) -> int:
        facts = self._store.get(KEY)
        return facts["version"] if isinstance(facts, dict) else INITIAL_VERSION

    def apply(self, command: dict[str, Any]) -> None:
        """Apply a committed command for which ``is_cluster_command`` holds."""
        version = command.get("version")
        if type(version) is int and version > self.version:
            # A new dict, never a change in place: snapshots share the containers (see state.py).
            self._store[KEY] = {**self._store.get(KEY, {}), "version": version}

    def snapshot(self) -> dict[str, Any]:
        """The part of a snapshot this state owns (nothing at version 1, as 0.1.0 wrote them)."""
        return {KEY: self._store[KEY]} if KEY in self._store else {}

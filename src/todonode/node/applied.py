"""The applied state: the task state machine and the cluster's own facts (its version), the pickledb
that holds both, and how far the log has been applied to them. The Ready loop applies committed
entries here; recovery and installed snapshots replace it whole; the API reads ``tasks``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pickledb import PickleDB

from ..cluster_state import ClusterState, is_cluster_command
from ..raft import Entry, EntryKind
from ..state import Result, TaskState
from ..versions import COMPACT_RECORDS_FROM


class AppliedState:
    def __init__(self, location: Path) -> None:
        # The state is the pickledb's dict. TaskState works on ``db.db`` directly because pickledb's
        # get and set are coroutines that take a lock per call, and applying an entry must stay a
        # plain synchronous function of the entry. The dict is made durable by snapshots
        # (storage/snapshots.py), never by ``db.save()``.
        self.db = PickleDB(str(location))
        self.tasks = TaskState(self.db.db)
        self.cluster = ClusterState(self.db.db)
        self._follow_cluster_version()
        self.index = 0  # the last log index applied (a task command or a no-op)

    def replace(self, state: dict[str, Any], index: int) -> None:
        """Start from ``state``, which reflects the log up to ``index`` (a snapshot)."""
        self.db.db = state
        self.tasks = TaskState(state)
        self.cluster = ClusterState(state)
        self._follow_cluster_version()
        self.index = index

    def apply(self, entry: Entry) -> Result | None:
        """Apply one committed entry; None for a leader's no-op or a cluster command, which change no task."""
        self.index = entry.index
        if entry.kind is EntryKind.NOOP:
            return None
        command = orjson.loads(entry.data)
        if is_cluster_command(command):
            self.cluster.apply(command)
            self._follow_cluster_version()
            return None
        return self.tasks.apply(entry.index, command)

    def _follow_cluster_version(self) -> None:
        """The task state keeps its idempotency records as the cluster version allows (state.py)."""
        self.tasks.compact_records = self.cluster.version >= COMPACT_RECORDS_FROM

    def snapshot(self) -> dict[str, Any]:
        """A point-in-time copy of everything applied, safe to encode while applies go on."""
        return {**self.tasks.snapshot(), **self.cluster.snapshot()}

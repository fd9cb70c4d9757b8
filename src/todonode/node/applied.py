"""The applied state: the task state machine and the cluster's own facts (cluster_state.py), the pickledb
that holds both, and how far the log has been applied to them. The Ready loop applies committed
entries here; recovery and installed snapshots replace it whole; the API reads ``tasks``.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import orjson
from pickledb import PickleDB

from ..cluster_state import ClusterState, is_cluster_command
from ..raft import ClusterConfig, Entry, EntryKind, decode_config
from ..state import Result, TaskState
from ..versions import COMPACT_RECORDS_FROM
from .free_memory import page_releaser

# Tasks are records the garbage collector tracks (state.py): a full collection over a million of them
# held the event loop for half a second and more, often enough in a fill to cost elections. Once
# this many tasks were made or changed, the memory is settled (``settle_memory``).
TASKS_BETWEEN_SETTLES = 50_000


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
        self._changed_since_settle = 0
        self._release_pages = page_releaser()

    def replace(self, state: dict[str, Any], index: int, tasks: TaskState | None = None) -> None:
        """Start from ``state``, which reflects the log up to ``index`` (a snapshot). ``tasks``: the task
        state over ``state``, when it was built beforehand (``TaskState(state)`` indexes every task: at
        a million tasks, seconds that a node serving requests spends in a worker thread instead)."""
        self.db.db = state
        self.tasks = TaskState(state) if tasks is None else tasks
        self.cluster = ClusterState(state)
        self._follow_cluster_version()
        self.index = index

    def apply(self, entry: Entry, config_before: ClusterConfig | None = None) -> Result | None:
        """Apply one committed entry; None for a leader's no-op, a configuration change or a cluster
        command, which change no task. ``config_before``: for a configuration change, the configuration
        it changed (the members it leaves out are retired)."""
        self.index = entry.index
        if entry.kind is EntryKind.NOOP:
            return None
        if entry.kind is EntryKind.CONFIG:
            before = config_before.members if config_before is not None else ()
            self.cluster.members_changed(before, decode_config(entry.data).members)
            return None
        command = orjson.loads(entry.data)
        if is_cluster_command(command):
            self.cluster.apply(command)
            self._follow_cluster_version()
            return None
        result = self.tasks.apply(entry.index, command)
        self._changed_since_settle += len(result.events)
        if self._changed_since_settle >= TASKS_BETWEEN_SETTLES:
            self.settle_memory()
        return result

    def settle_memory(self) -> None:
        """Collect the young garbage, set what survives aside from later collections (gc.freeze, as
        recovery does with the state it loads), and give the pages the allocator holds free back to
        the system (free_memory.py). Collecting first means only cycles made after it can outlive
        their use; tasks form none. Milliseconds: call it after work that freed much, not per write."""
        gc.collect()
        gc.freeze()
        self._release_pages()
        self._changed_since_settle = 0

    def _follow_cluster_version(self) -> None:
        """The task state keeps its idempotency records as the cluster version allows (state.py)."""
        self.tasks.compact_records = self.cluster.version >= COMPACT_RECORDS_FROM

    def snapshot(self) -> dict[str, Any]:
        """A point-in-time copy of everything applied, safe to encode while applies go on."""
        return {**self.tasks.snapshot(), **self.cluster.snapshot()}

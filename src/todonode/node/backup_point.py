"""The applied state at one log index, for a backup: what a new cluster started from it would hold.

Taken on the event loop in one go, between two applies, so every part is from the same index: the
index and term of the last entry applied, the configuration in effect there, the cluster id, and a
copy of the state's containers. The copy is shallow and still consistent, because nothing stored in
them is ever changed in place (state.py), so it may be encoded in a worker thread while the node goes
on applying — as snapshot_policy.py does for the node's own snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..raft import RaftNode, SnapshotMeta
from ..storage.backup_file import BackupHeader, now_utc
from ..versions import release
from .applied import AppliedState


@dataclass(frozen=True, slots=True)
class BackupPoint:
    meta: SnapshotMeta  # the index and term the state reflects, and the configuration there
    state: dict[str, Any]  # the state machine's top-level dict, its containers copied
    cluster_id: str | None
    storage_format: int  # what the node writes now: the snapshot in a backup is encoded in it

    def header(self) -> BackupHeader:
        """The header of a backup of this state, made now by this release."""
        return BackupHeader(
            cluster_id=self.cluster_id,
            index=self.meta.index,
            term=self.meta.term,
            storage_format=self.storage_format,
            release=release(),
            tasks=len(self.state.get("tasks", ())),
            created_at=now_utc(),
        )


def backup_point(
    core: RaftNode, applied: AppliedState, cluster_id: str | None, storage_format: int
) -> BackupPoint:
    index = applied.index
    term = core.log.term_at(index)
    assert term is not None, "an applied entry is in the log"
    meta = SnapshotMeta(index, term, core.config_at(index))
    return BackupPoint(meta, applied.snapshot(), cluster_id, storage_format)

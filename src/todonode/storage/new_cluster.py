"""Seeding a data directory as the one member of a new cluster, holding a given state: what a restore
from a backup and a forced recovery both end with.

The seeded directory is one a node could have written itself, in the current storage format:

- a snapshot of the state at the given index and term, whose configuration has this member as its
  only voter (with its address), and whose cluster facts (cluster_state.py) name a new cluster id,
  keep the cluster version (at least ``IDENTITY_VERSION``, so that the id means something) and forget
  the old cluster's retired ids and kept learners: they name members of a cluster that is gone, and a
  new member given one of those ids would be refused, or kept a learner, for no reason of its own;
- a write-ahead log holding the term (and, as committed, the snapshot's index) and nothing after it;
- the VERSION file, and a MEMBER file naming this member, the new cluster and its own address.

Why a MEMBER file, as a node that joined a running cluster has: the node is then the member that file
names and takes its members from the snapshot's configuration alone (node/members.py), never from its
config file's ``cluster.nodes``. Those list the old cluster's nodes, which are not members of this one:
the node must not try to reach them, nor report them as a disagreement with its log. Other nodes join
the new cluster with ``[cluster] join`` (node/joining.py).

Must never write into a directory that holds anything, nor leave under the data directory's name one
that is half written: everything is written and fsync'd in ``<data_dir>.seeding-tmp``, which is then
renamed into place. A crash before the rename leaves the data directory as it was (missing or empty);
the next seeding clears what the interrupted one left in the temporary directory.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from ..cluster_state import IDENTITY_VERSION, KEY, ClusterState
from ..privacy import PRIVATE_DIR
from ..raft.messages import ClusterConfig, HardState, SnapshotMeta
from ..versions import storage_format_of
from . import member_file
from .durable import fsync_dir
from .lock import DataDirLock
from .member_file import Membership
from .snapshots import SnapshotStore
from .version_file import VersionFile
from .wal import WriteAheadLog

SEEDING_SUFFIX = ".seeding-tmp"
_SHOWN = 5  # entries of a non-empty directory named in the refusal


class DataDirNotEmpty(Exception):
    """The data directory to seed already holds something: it is never overwritten."""

    def __init__(self, data_dir: Path, contents: list[str]):
        """``contents``: the names in the directory; empty when ``data_dir`` is a file."""
        more = f" and {len(contents) - _SHOWN} more" if len(contents) > _SHOWN else ""
        held = f"holds {', '.join(contents[:_SHOWN])}{more}" if contents else "is a file"
        super().__init__(
            f"data directory {data_dir} is not empty (it {held}); it is never overwritten: move it aside, "
            "or name an empty or missing directory in the config's node.data_dir"
        )
        self.data_dir, self.contents = data_dir, contents


def seed_new_cluster(
    data_dir: Path, member_id: str, address: str, state: dict[str, Any], index: int, term: int
) -> str:
    """Make ``data_dir`` the data directory of ``member_id`` (reached at ``address``), the only voter of
    a new cluster, holding ``state`` (the state machine's top-level dict) as of log ``index`` and
    ``term``; the new log starts after ``index``. Returns the new cluster id.

    DataDirNotEmpty if ``data_dir`` holds anything; DataDirLocked if another seeding of it is under way;
    ClusterTooNew if ``state`` is at a cluster version this todonode cannot run."""
    _refuse_unless_empty(data_dir)
    cluster_id = uuid.uuid4().hex
    version = max(ClusterState(state).version, IDENTITY_VERSION)
    storage_format = storage_format_of(version)
    seeded = {**state, KEY: {"version": version, "id": cluster_id}}
    config = ClusterConfig((member_id,), addresses=((member_id, address),))
    seeding = data_dir.with_name(data_dir.name + SEEDING_SUFFIX)
    with DataDirLock(seeding):
        _clear(seeding)
        VersionFile(seeding).require(storage_format)  # before anything in that format is written
        SnapshotStore(seeding / "snapshots").save_blocking(
            SnapshotMeta(index, term, config), seeded, storage_format
        )
        wal, _ = WriteAheadLog.open(seeding / "wal", storage_format=storage_format)
        try:
            wal.append(HardState(term=term, vote=None, commit=index), [])
            wal.reset(index)  # the snapshot covers everything up to index; fsyncs the log
        finally:
            wal.close()
        member_file.save(seeding, Membership(member_id, cluster_id, {member_id: address}))
        fsync_dir(seeding)
        # Replaces a missing or empty directory in one step; fails (ENOTEMPTY) if it filled meanwhile.
        os.rename(seeding, data_dir)
        fsync_dir(data_dir.parent)
    return cluster_id


def _refuse_unless_empty(data_dir: Path) -> None:
    if data_dir.is_dir():
        contents = sorted(p.name for p in data_dir.iterdir())
        if contents:
            raise DataDirNotEmpty(data_dir, contents)
    elif data_dir.exists():
        raise DataDirNotEmpty(data_dir, [])


def _clear(seeding: Path) -> None:
    """Remove what an interrupted seeding left (never the lock: storage/lock.py says why), and make the
    directory private again (privacy.py): it becomes the data directory."""
    os.chmod(seeding, PRIVATE_DIR)
    for path in seeding.iterdir():
        if path.name == "LOCK":
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()

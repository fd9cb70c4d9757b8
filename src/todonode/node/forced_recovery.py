"""Forcing a new cluster from one surviving node's data directory: the last resort when a majority of the
cluster will never come back (README, "Disaster recovery"; docs/guarantees.md#forcing-a-new-cluster).

What the node holds is rebuilt as the node itself rebuilds it at start-up (recovery.py: the snapshot,
then the log), and then **every** entry of its log is applied, committed or not. A new leader would do
the same with them: it commits the entries of its log through the first entry of its own term (Raft
§5.4.2), and with no other member left nobody can say that a different entry took any of those indexes.
So the entries after the commit index this node knew count as committed from now on; what it cannot
count are the writes the lost majority acknowledged and never sent here. ``Held`` says both.

Then the old data directory is set aside, never deleted (``<data_dir>.before-recover-<UTC time>``), and
a new one is seeded in its place with that state, as the only member of a new cluster
(storage/new_cluster.py).

Must never: run while a node runs on the directory (the caller holds the directory's lock from before
``read_held`` until after ``set_aside``), nor set anything aside before the caller has confirmed.
Reading is the node's own start-up, so it repairs what a start repairs (a torn log tail is cut), and
no more.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ..config import Config
from ..raft import Entry, EntryKind
from ..storage.durable import fsync_dir
from ..storage.member_file import Membership
from ..versions import storage_format_of
from .applied import AppliedState
from .disk import Disk
from .recovery import recover

ASIDE_INFIX = ".before-recover-"


@dataclass(frozen=True)
class Held:
    """What one node's data directory holds, rebuilt as at start-up, every entry of its log applied."""

    member_id: str
    cluster_id: str | None
    voters: tuple[str, ...]  # of the configuration in effect: the cluster as this node last knew it
    term: int  # the node's current term
    index: int  # the last entry of its log
    last_term: int  # that entry's term
    commit: int  # the commit index the node knew
    uncommitted: dict[str, int]  # the entries after ``commit``, counted by what they are
    tasks: int
    state: dict[str, Any]  # the state machine's top-level dict at ``index``

    @property
    def uncommitted_count(self) -> int:
        return self.index - self.commit


class NothingHeld(Exception):
    """The data directory holds no log and no snapshot."""


async def read_held(config: Config, membership: Membership | None) -> Held:
    """What the data directory of ``config`` holds; NothingHeld if no node ever wrote to it. The caller
    holds the directory's lock."""
    member_id = config.node.id if membership is None else membership.member_id
    data_dir = config.node.data_dir
    disk = Disk(member_id, data_dir, config.storage)
    applied = AppliedState(data_dir / "state.json")
    try:
        if disk.is_empty():
            raise NothingHeld(f"{data_dir} holds no log and no snapshot")
        core = await recover(config, disk, applied, membership)
    finally:
        await disk.close()
    uncommitted: Counter[str] = Counter()
    for entry in core.log.entries(applied.index + 1):
        if entry.index > core.commit:
            uncommitted[_what(entry)] += 1
        before = core.config_at(entry.index - 1) if entry.kind is EntryKind.CONFIG else None
        applied.apply(entry, before)
    storage_format_of(applied.cluster.version)  # ClusterTooNew now, while nothing is set aside yet
    return Held(
        member_id=member_id,
        cluster_id=applied.cluster.cluster_id or (membership.cluster_id if membership else None),
        voters=core.config.voters,
        term=core.term,
        index=core.log.last_index,
        last_term=core.log.last_term,
        commit=core.commit,
        uncommitted=dict(uncommitted),
        tasks=applied.tasks.counts()["total"],
        state=applied.snapshot(),
    )


def _what(entry: Entry) -> str:
    """An entry as a person would name it: the command's op, or what the core made it for."""
    if entry.kind is EntryKind.NOOP:
        return "leader no-op"
    if entry.kind is EntryKind.CONFIG:
        return "membership change"
    try:
        op = orjson.loads(entry.data).get("op")
    except (orjson.JSONDecodeError, AttributeError):
        op = None
    return str(op) if isinstance(op, str) else "unreadable command"


def aside_path(data_dir: Path, now: datetime) -> Path:
    """Where the old data directory goes: beside it, named for the moment (``now`` in UTC)."""
    return data_dir.with_name(f"{data_dir.name}{ASIDE_INFIX}{now:%Y%m%dT%H%M%SZ}")


def set_aside(data_dir: Path, aside: Path) -> None:
    """Move the data directory to ``aside``, durably; FileExistsError if something is there already."""
    if aside.exists():
        raise FileExistsError(f"{aside} exists already; wait a second and try again")
    os.rename(data_dir, aside)
    fsync_dir(aside.parent)

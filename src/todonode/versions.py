"""Which versions this todonode is, and which versions of everything else it can work with.

Three numbers, each of which only ever grows (docs/architecture.md#versions):

- the **release** (``0.2.0``), for people: ``todonode --version``, ``/status``, the dashboard;
- the **storage format** of what a node writes to its data directory: the directory's ``VERSION``
  file, every snapshot's header and every log segment's FORMAT record say which format they are in.
  A node reads every format up to ``STORAGE_FORMAT`` and refuses a directory in a newer one;
- the **cluster version**: what every voter has agreed, through the log, to write and send. A node can
  run a cluster at any version in ``CLUSTER_VERSIONS``; ``STORAGE_FORMAT_OF`` says which storage format
  each cluster version lets nodes write. A new format (of the log, of snapshots, of peer messages)
  gets a new cluster version here, and is used only once the cluster has moved to it.

Peers announce themselves on every stream they open (``Announcement``, in the ``X-Todonode-Versions``
header): their release and the cluster versions they can run. A peer that announces nothing is 0.1.0,
the one release from before announcements (``LEGACY``).

Pure: no I/O, except reading the installed package's own version once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

# Cluster version -> the storage format nodes write while the cluster runs at it.
# 1: 0.1.0's formats. 2: a VERSION file, format records in log segments, a format in snapshot headers,
# and the cluster version itself in snapshots.
STORAGE_FORMAT_OF: dict[int, int] = {1: 1, 2: 2}
CLUSTER_VERSIONS = range(min(STORAGE_FORMAT_OF), max(STORAGE_FORMAT_OF) + 1)
# From this cluster version on, idempotency records keep task ids within a byte budget (state.py); below
# it they are kept as 0.1.0 keeps them, so that every replica of a mixed cluster evicts the same ones.
COMPACT_RECORDS_FROM = 2
STORAGE_FORMAT = max(STORAGE_FORMAT_OF.values())  # the newest this node reads (and every older one)
FIRST_STORAGE_FORMAT = 1  # what a directory without a VERSION file, or a snapshot without a format, is in

_ANNOUNCEMENT = re.compile(r"(?P<release>[0-9A-Za-z.+-]{1,40}); cluster=(?P<low>\d{1,6})-(?P<high>\d{1,6})")


@functools.cache
def release() -> str:
    """This todonode's release, as installed."""
    try:
        return version("todonode")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class Announcement:
    """What a node says about itself when it opens a stream to a peer."""

    release: str
    low: int  # the oldest cluster version it can run
    high: int  # the newest

    def runs(self, cluster_version: int) -> bool:
        return self.low <= cluster_version <= self.high

    def header(self) -> str:
        return f"{self.release}; cluster={self.low}-{self.high}"

    @classmethod
    def parse(cls, header: str | None) -> Announcement:
        """The announcement in a stream's header; ``LEGACY`` when there is none. ValueError if malformed."""
        if header is None:
            return LEGACY
        found = _ANNOUNCEMENT.fullmatch(header.strip())
        if found is None or int(found["low"]) > int(found["high"]):
            raise ValueError(f"not a version announcement: {header[:80]!r}")
        return cls(found["release"], int(found["low"]), int(found["high"]))


LEGACY = Announcement("0.1.0", 1, 1)


def this_node() -> Announcement:
    return Announcement(release(), CLUSTER_VERSIONS.start, CLUSTER_VERSIONS.stop - 1)


def newest_common(announcements: Iterable[Announcement]) -> int | None:
    """The newest cluster version every one of these nodes can run; None if there is none."""
    nodes = list(announcements)
    if not nodes:
        return None
    newest, oldest = min(a.high for a in nodes), max(a.low for a in nodes)
    return newest if newest >= oldest else None


def storage_format_of(cluster_version: int) -> int:
    """The storage format nodes write at ``cluster_version``; ClusterTooNew if this node cannot run it."""
    try:
        return STORAGE_FORMAT_OF[cluster_version]
    except KeyError:
        raise ClusterTooNew(cluster_version) from None


class StorageTooNew(Exception):
    """Something in the data directory is in a storage format this todonode cannot read."""

    def __init__(self, what: str, found: int, written_by: str | None = None):
        by = f", written by todonode {written_by}" if written_by else ""
        super().__init__(
            f"{what} is in storage format {found}{by}; todonode {release()} reads formats "
            f"{FIRST_STORAGE_FORMAT} to {STORAGE_FORMAT}. Run a todonode that reads format {found}, or "
            "move the data directory aside and start this node with an empty one to rejoin from its peers"
        )
        self.found = found


class ClusterTooNew(Exception):
    """The log moved the cluster to a version this todonode cannot run."""

    def __init__(self, cluster_version: int):
        high = CLUSTER_VERSIONS.stop - 1
        super().__init__(
            f"the cluster runs at cluster version {cluster_version}; todonode {release()} runs cluster "
            f"versions {CLUSTER_VERSIONS.start} to {high}. Upgrade this node to the release the other "
            "nodes run"
        )
        self.cluster_version = cluster_version

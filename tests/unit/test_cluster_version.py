"""The cluster version: announced by peers, proposed by the leader only once every voter runs it, applied
in log order, followed by the storage format, and refused by a node that cannot run it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from todonode.cluster_state import ClusterState, is_cluster_command, set_version_command
from todonode.config import StorageSection
from todonode.node.applied import AppliedState
from todonode.node.disk import Disk
from todonode.node.versioning import ClusterVersioning
from todonode.raft import Accepted, ClusterConfig, Entry, Heartbeat, Role
from todonode.state import IDEMPOTENCY_MAX_BYTES, Idempotency, batch_create_command
from todonode.versions import (
    CLUSTER_VERSIONS,
    COMPACT_RECORDS_FROM,
    LEGACY,
    Announcement,
    ClusterTooNew,
    newest_common,
    release,
    this_node,
)

NEW = this_node()
AT = "2026-11-27T01:02:03.456Z"
NEWEST = CLUSTER_VERSIONS.stop - 1


# ------------------------------------------------------------------------------------ announcements


def test_a_peer_that_announces_nothing_is_0_1_0_and_runs_only_cluster_version_1() -> None:
    assert Announcement.parse(None) == LEGACY == Announcement("0.1.0", 1, 1)


def test_an_announcement_reads_back_as_it_was_written() -> None:
    assert Announcement.parse(NEW.header()) == NEW == Announcement(release(), 1, NEWEST)


@pytest.mark.parametrize("header", ["", "0.2.0", "0.2.0; cluster=2", "0.2.0; cluster=3-2", "x; cluster=a-b"])
def test_a_malformed_announcement_is_refused(header: str) -> None:
    with pytest.raises(ValueError, match="not a version announcement"):
        Announcement.parse(header)


def test_the_newest_common_version_is_the_oldest_nodes_newest() -> None:
    assert newest_common([NEW, NEW]) == NEWEST
    assert newest_common([NEW, LEGACY, NEW]) == 1
    assert newest_common([Announcement("9", 3, 4), LEGACY]) is None  # no version both run


# ------------------------------------------------------------------------------------- the state


def test_the_cluster_version_only_grows_and_lives_in_the_snapshot() -> None:
    store: dict = {}
    state = ClusterState(store)
    assert (state.version, state.snapshot()) == (1, {})  # as every 0.1.0 snapshot is
    malformed = {"op": "cluster_version", "version": "3"}
    for command in (set_version_command(2), set_version_command(1), malformed):
        assert is_cluster_command(command)
        state.apply(command)
    assert state.version == 2 and state.snapshot() == {"cluster": {"version": 2}}
    assert ClusterState(dict(state.snapshot())).version == 2


def test_a_cluster_command_is_no_task_command_and_changes_no_task(tmp_path: Path) -> None:
    applied = AppliedState(tmp_path / "state.json")
    result = applied.apply(Entry(term=1, index=1, data=orjson.dumps(set_version_command(2))))
    assert result is None and applied.cluster.version == 2
    assert applied.tasks.counts()["total"] == 0 and applied.index == 1
    assert applied.snapshot()["cluster"] == {"version": 2}


def test_until_the_cluster_moves_on_idempotency_records_are_kept_as_0_1_0_keeps_them(tmp_path: Path) -> None:
    applied = AppliedState(tmp_path / "state.json")
    titles = ["t" * 500] * 1000  # a keyed batch whose whole answer is about 0.7 MB
    index = 0

    def keyed_batch(key: str) -> None:
        nonlocal index
        index += 1
        ids = [f"{key}-{n}" for n in range(len(titles))]
        command = batch_create_command(titles, task_ids=ids, at=AT, idempotency=Idempotency(key, "f"))
        assert applied.apply(Entry(term=1, index=index, data=orjson.dumps(command))) is not None

    for n in range(8):  # far past the byte budget of compact records
        keyed_batch(f"old{n}")
    records = applied.snapshot()["idempotency"]
    assert list(records) == [f"old{n}" for n in range(8)]  # none evicted for its size
    assert all(len(record["body"]["tasks"]) == 1000 for record in records.values())
    assert applied.tasks.idempotency_bytes > IDEMPOTENCY_MAX_BYTES

    index += 1
    applied.apply(Entry(term=1, index=index, data=orjson.dumps(set_version_command(COMPACT_RECORDS_FROM))))
    keyed_batch("new")
    records = applied.snapshot()["idempotency"]
    assert records["new"]["tasks"][:2] == ["new-0", "new-1"] and "body" not in records["new"]
    assert applied.tasks.idempotency_bytes <= IDEMPOTENCY_MAX_BYTES  # the old ones went to make room


# ------------------------------------------------------------------------------ the leader's switch


@dataclass
class StandInCore:
    """The few things ClusterVersioning asks of the Raft core."""

    voters: tuple[str, ...] = ("n1", "n2", "n3")
    id: str = "n1"
    role: Role = Role.LEADER
    term: int = 2
    commit: int = 0
    proposed: list[dict] = field(default_factory=list)

    @property
    def config(self) -> ClusterConfig:
        return ClusterConfig(self.voters)

    def propose(self, data: bytes) -> Accepted:
        self.proposed.append(orjson.loads(data))
        return Accepted(index=len(self.proposed), term=self.term)


class Stream:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> bool:
        self.closed = True
        return True


class StandInDisk:
    """A disk already writing the newest format (the real one is tested at the end of this file)."""

    storage_format = NEWEST

    async def use_format(self, storage_format: int) -> None:
        raise AssertionError(f"asked to move to format {storage_format}, already at {NEWEST}")


def versioning(tmp_path: Path, core: StandInCore) -> tuple[ClusterVersioning, AppliedState]:
    applied = AppliedState(tmp_path / "state.json")
    return ClusterVersioning(core, applied, StandInDisk()), applied  # type: ignore[arg-type]


def test_the_leader_proposes_only_once_every_voter_announces_the_version(tmp_path: Path) -> None:
    core = StandInCore()
    gate, _ = versioning(tmp_path, core)
    assert not gate.maybe_propose()  # nobody has announced anything
    gate.stream_opened("n2", NEW, Stream())
    old = Stream()
    gate.stream_opened("n3", LEGACY, old)
    assert not gate.maybe_propose()  # n3 runs 0.1.0: the cluster stays at 1
    gate.stream_closed("n3", old)
    gate.stream_opened("n3", NEW, Stream())  # n3 upgraded
    assert gate.maybe_propose()
    assert core.proposed == [set_version_command(NEWEST)]
    assert not gate.maybe_propose()  # once per term


def test_a_voter_whose_stream_closed_has_no_say(tmp_path: Path) -> None:
    core = StandInCore(voters=("n1", "n2"))
    gate, _ = versioning(tmp_path, core)
    stream = Stream()
    gate.stream_opened("n2", NEW, stream)
    gate.stream_closed("n2", stream)
    assert not gate.maybe_propose() and core.proposed == []


def test_a_follower_or_a_leader_behind_its_commit_index_proposes_nothing(tmp_path: Path) -> None:
    for core in (StandInCore(voters=("n1",), role=Role.FOLLOWER), StandInCore(voters=("n1",), commit=5)):
        gate, _ = versioning(tmp_path, core)
        assert not gate.maybe_propose() and core.proposed == []


# ------------------------------------------------------------------------------------ shutting out


async def test_a_peer_too_old_for_the_cluster_version_is_refused_and_sent_nothing(tmp_path: Path) -> None:
    gate, applied = versioning(tmp_path, StandInCore())
    applied.cluster.apply(set_version_command(2))
    reason = gate.stream_opened("n3", LEGACY, Stream())
    assert reason is not None and "n3 runs todonode 0.1.0" in reason and "at version 2" in reason
    beats = (Heartbeat(term=2, src="n1", dst="n2"), Heartbeat(term=2, src="n1", dst="n3"))
    assert [m.dst for m in gate.deliverable(beats)] == ["n2"]
    assert gate.stream_opened("n3", NEW, Stream()) is None  # upgraded: back in
    assert gate.deliverable(beats) == beats


async def test_an_old_peer_connected_before_the_switch_is_cut_off_by_it(tmp_path: Path) -> None:
    gate, applied = versioning(tmp_path, StandInCore())
    stream = Stream()
    assert gate.stream_opened("n3", LEGACY, stream) is None  # at version 1, 0.1.0 is welcome
    applied.cluster.apply(set_version_command(2))
    await gate.follow()
    assert stream.closed and gate.status().peers["n3"] == LEGACY
    assert gate.deliverable((Heartbeat(term=2, src="n1", dst="n3"),)) == ()


# -------------------------------------------------------------------------------------- following


async def test_following_a_new_version_moves_the_disk_to_its_storage_format(tmp_path: Path) -> None:
    disk = Disk("n1", tmp_path, StorageSection(fsync=False))
    disk.lock()
    try:
        await disk.run(disk.version.load)
        await disk.open_wal(1)
        applied = AppliedState(tmp_path / "state.json")
        gate = ClusterVersioning(StandInCore(), applied, disk)  # type: ignore[arg-type]
        applied.cluster.apply(set_version_command(2))
        await gate.follow()
        assert disk.storage_format == 2 and disk.version.format == 2
        assert orjson.loads((tmp_path / "VERSION").read_bytes())["format"] == 2
    finally:
        await disk.close()


async def test_a_version_this_node_cannot_run_stops_it(tmp_path: Path) -> None:
    gate, applied = versioning(tmp_path, StandInCore())
    applied.cluster.apply(set_version_command(NEWEST + 1))
    with pytest.raises(ClusterTooNew, match=f"cluster version {NEWEST + 1}; todonode {release()}"):
        await gate.follow()

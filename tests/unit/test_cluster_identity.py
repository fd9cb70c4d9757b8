"""The cluster's identity: an id set once through the log, carried by snapshots and read back from their
end alone; retired member ids that stay retired."""

from __future__ import annotations

from todonode.cluster_state import ClusterState, is_cluster_command, set_id_command, set_version_command
from todonode.node.identity import snapshot_cluster_id
from todonode.raft import ClusterConfig, SnapshotMeta
from todonode.storage import encode_snapshot


def test_the_cluster_id_is_set_once_and_never_changes() -> None:
    state = ClusterState({})
    assert state.cluster_id is None
    for command in (set_id_command("first"), set_id_command("second"), {"op": "cluster_id", "id": 7}):
        assert is_cluster_command(command)
        state.apply(command)
    assert state.cluster_id == "first"


def test_setting_the_id_keeps_the_version_and_the_other_way_round() -> None:
    state = ClusterState({})
    state.apply(set_version_command(2))
    state.apply(set_id_command("abc"))
    assert (state.version, state.cluster_id) == (2, "abc")
    assert state.snapshot() == {"cluster": {"version": 2, "id": "abc"}}


def test_a_removed_member_stays_retired_and_an_added_one_is_not() -> None:
    state = ClusterState({})
    state.members_changed(["a", "b", "c"], ["a", "b", "c", "d"])
    assert state.retired == frozenset()
    state.members_changed(["a", "b", "c", "d"], ["a", "b", "d"])
    state.members_changed(["a", "b", "d"], ["a", "b", "d", "e"])
    assert state.retired == {"c"}
    assert ClusterState(dict(state.snapshot())).retired == {"c"}


def _snapshot_bytes(state: dict) -> bytes:
    meta = SnapshotMeta(index=9, term=2, config=ClusterConfig(("a", "b", "c")))
    return b"".join(encode_snapshot(meta, state, 2))


def test_the_cluster_id_is_read_from_the_end_of_a_snapshot() -> None:
    tasks = {"tasks": {"t1": {"title": 'a title that says ,"cluster":{"id":"forged"}'}}}
    assert snapshot_cluster_id(_snapshot_bytes({**tasks, "cluster": {"version": 2, "id": "ours"}})) == "ours"
    assert snapshot_cluster_id(_snapshot_bytes({"cluster": {"version": 2, "id": "alone"}})) == "alone"


def test_a_snapshot_without_cluster_facts_has_no_cluster_id() -> None:
    assert snapshot_cluster_id(_snapshot_bytes({"tasks": {}})) is None
    # A key named "cluster" deeper in the state is not the cluster's facts.
    nested = {"idempotency": {"cluster": {"id": "no"}}, "tasks": {}}
    assert snapshot_cluster_id(_snapshot_bytes(nested)) is None

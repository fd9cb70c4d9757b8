"""The address book follows the log's configuration, and ids are never reused."""

from __future__ import annotations

from pathlib import Path

from todonode.node.joining import start_over
from todonode.node.members import new_member_id
from todonode.storage import member_file
from todonode.storage.member_file import Membership


def test_a_new_member_gets_node_port_or_a_numbered_id_no_member_ever_had():
    assert new_member_id("http://127.0.0.1:4004", {"node4000"}) == "node4004"
    assert new_member_id("http://127.0.0.1:4004", {"node4004"}) == "node4004.2"
    assert new_member_id("http://127.0.0.1:4004", {"node4004", "node4004.2"}) == "node4004.3"


def test_a_new_member_on_a_port_the_others_share_is_named_by_host_and_port():
    others = ["http://10.0.0.1:7400", "http://10.0.0.2:7400"]
    assert new_member_id("http://10.0.0.5:7400", {"10.0.0.1:7400"}, others) == "10.0.0.5:7400"


def test_the_member_file_reads_back_as_written(tmp_path: Path):
    assert member_file.load(tmp_path) is None
    membership = Membership("node4004", "abc", {"node4000": "http://127.0.0.1:4000"})
    member_file.save(tmp_path, membership)
    assert member_file.load(tmp_path) == membership
    assert (tmp_path / "MEMBER").stat().st_mode & 0o077 == 0


def test_starting_over_sets_the_old_members_files_aside_and_keeps_the_lock(tmp_path: Path):
    (tmp_path / "wal").mkdir()
    (tmp_path / "wal" / "seg").write_text("old log")
    (tmp_path / "VERSION").write_text("{}")
    (tmp_path / "LOCK").write_text("")
    aside = start_over(tmp_path, "node4003", Membership("node4003.2", "abc"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["LOCK", "MEMBER", aside.name])
    assert (aside / "wal" / "seg").read_text() == "old log"
    assert member_file.load(tmp_path).member_id == "node4003.2"

"""A node's data directory and every file in it are private from the moment they exist, and a data
directory that other users may open is refused, naming it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from todonode.config import StorageSection
from todonode.node.disk import DataDirExposed, Disk
from todonode.privacy import exposure
from todonode.raft import ClusterConfig, Entry, HardState, SnapshotMeta
from todonode.versions import STORAGE_FORMAT


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("no_umask")
async def test_the_data_directory_is_0700_and_every_file_in_it_0600_from_creation(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    disk = Disk("node1", data_dir, StorageSection(segment_bytes=256))
    disk.lock()
    try:
        await disk.open_wal(STORAGE_FORMAT)  # the newest format: a VERSION file is written too
        for index in range(1, 20):  # past the small segment size: rotated segments are made too
            disk.wal.append(HardState(term=1, vote="node1", commit=index), [Entry(1, index, b"x" * 64)])
            disk.wal.sync()
        await disk.save_snapshot(SnapshotMeta(19, 1, ClusterConfig(("node1",))), {"tasks": {}})
    finally:
        await disk.close()

    made = list(data_dir.rglob("*"))
    files = [path for path in made if path.is_file()]
    assert len([f for f in files if f.name.startswith("wal-")]) > 1 and any("snap-" in f.name for f in files)
    assert "VERSION" in {f.name for f in files}
    assert mode(data_dir) == 0o700
    assert {path.name: mode(path) for path in made if path.is_dir()} == {"wal": 0o700, "snapshots": 0o700}
    assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}


@pytest.mark.parametrize("open_mode", [0o755, 0o750, 0o701, 0o770])
def test_a_data_directory_others_may_open_is_refused_naming_it(tmp_path: Path, open_mode: int) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(open_mode)

    with pytest.raises(DataDirExposed) as refused:
        Disk("node1", data_dir, StorageSection()).lock()

    assert str(refused.value) == (
        f"data directory {data_dir} is open to {'its group' if not open_mode & 0o007 else 'other users'} "
        f"(mode 0{open_mode:o}); make it private: chmod 700 {data_dir}"
    )
    assert not (data_dir / "LOCK").exists()


async def test_a_data_directory_of_the_first_release_is_made_private_not_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """0.1.0 wrote data directories 0755 and files 0644: upgrading must not strand them, so the node
    closes them once, and says so."""
    data_dir = tmp_path / "data"
    (data_dir / "wal").mkdir(parents=True)
    (data_dir / "snapshots").mkdir()
    for path in (data_dir / "wal" / "wal-0000000000000001.log", data_dir / "snapshots" / "snap.json"):
        path.write_bytes(b"")
        path.chmod(0o644)
    for directory in (data_dir, data_dir / "wal", data_dir / "snapshots"):
        directory.chmod(0o755)
    disk = Disk("node1", data_dir, StorageSection())

    disk.lock()
    await disk.close()

    made = [data_dir, *data_dir.rglob("*")]
    assert {p.name: mode(p) for p in made} == {p.name: 0o700 if p.is_dir() else 0o600 for p in made}
    assert "was written by todonode 0.1.0: made it private" in caplog.text


async def test_a_private_data_directory_made_beforehand_is_taken(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    disk = Disk("node1", data_dir, StorageSection())

    disk.lock()
    await disk.close()

    assert (data_dir / "LOCK").exists()


def test_exposure_says_nothing_of_private_or_missing_paths(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("x")
    secret.chmod(0o600)

    assert exposure(secret) is None and exposure(tmp_path / "missing") is None
    secret.chmod(0o640)
    expected = f"{secret} is open to its group (mode 0640); make it private: chmod 600 {secret}"
    assert exposure(secret) == expected

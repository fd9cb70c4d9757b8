"""The ``[backup]`` section: off unless ``dir`` is set, a relative dir resolves like ``node.data_dir``,
and a dir that would expose the tasks or sit in the data directory is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from todonode.config import BackupSection

from .test_config import config_error, config_text, load, write


def test_scheduled_backups_are_off_unless_a_dir_is_set(tmp_path: Path) -> None:
    backup = load(tmp_path).backup
    assert backup == BackupSection() and not backup.enabled
    assert (backup.interval_s, backup.keep) == (3600, 24)


def test_a_relative_dir_resolves_against_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    backup = load(tmp_path, backup={"dir": '"backups"', "interval_s": "600", "keep": "3"}).backup
    assert backup.enabled and backup.dir == tmp_path / "backups"
    assert (backup.interval_s, backup.keep) == (600, 3)


def test_a_dir_open_to_other_users_is_refused_with_the_fix(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    path = write(tmp_path, config_text(backup={"dir": f'"{shared}"'}))
    message = config_error(path)
    assert f"backup.dir: holds every task, and {shared} is open to other users" in message
    assert f"chmod 700 {shared}" in message


def test_a_dir_inside_the_data_directory_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = write(tmp_path, config_text(node={"data_dir": f'"{data}"'}, backup={"dir": f'"{data}/backups"'}))
    assert "backup.dir: must be outside node.data_dir" in config_error(path)


def test_a_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    path = write(tmp_path, config_text(backup={"dir": f'"{tmp_path / "afile"}"'}))
    assert "is not a directory" in config_error(path)


@pytest.mark.parametrize(("key", "value"), [("interval_s", "0"), ("keep", "0")])
def test_interval_and_keep_are_positive(tmp_path: Path, key: str, value: str) -> None:
    path = write(tmp_path, config_text(backup={"dir": '"b"', key: value}))
    assert f"backup.{key}: must be an integer > 0, got 0" in config_error(path)


def test_a_misspelt_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, config_text(backup={"dir": '"b"', "intervals": "5"}))
    assert "backup.intervals: unknown key (did you mean backup.interval_s?)" in config_error(path)

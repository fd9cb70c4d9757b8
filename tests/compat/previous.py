"""The previous release, built from this repository's own history and installed in a virtual
environment of its own, once per test run.

Which release and which commit come from CHANGELOG.md (its last ``## <release> — commit <hash>``
heading that is not this one): a clean clone may carry no tags, so none is ever used. The commit's
tree is taken with ``git archive`` and installed with plain ``pip install`` (its dependencies as its
own pyproject.toml asks for them). The environment is built once per run and shared by the test
processes, which wait for one another on a lock; each run starts afresh.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import subprocess
import tarfile
import venv
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHANGELOG = REPO / "CHANGELOG.md"
_RELEASED = re.compile(r"^## (?P<release>\d+\.\d+\.\d+) — commit (?P<commit>[0-9a-f]{7,40})\s*$", re.M)


@dataclass(frozen=True)
class Release:
    version: str
    commit: str
    python: Path  # the interpreter of its environment: ``python -m todonode.cli`` runs it


class Unavailable(Exception):
    """The previous release cannot be built here; the message says what is missing."""


def previous_release() -> tuple[str, str]:
    """(version, commit) of the newest release recorded in CHANGELOG.md with a commit."""
    found = _RELEASED.search(CHANGELOG.read_text())
    if found is None:
        raise AssertionError(f"{CHANGELOG} records no release as '## X.Y.Z — commit <hash>'")
    return found["release"], found["commit"]


def build(root: Path) -> Release:
    """The previous release installed under ``root`` (shared by every test process of this run)."""
    version, commit = previous_release()
    home = root / f"todonode-{version}"
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        python = home / "venv" / "bin" / "python"
        if not (home / ".installed").exists():
            _install(home, commit, python)
            (home / ".installed").write_text(commit + "\n")
    return Release(version, commit, python)


def _install(home: Path, commit: str, python: Path) -> None:
    _require_commit(commit)
    tree = home / "src"
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    venv.create(home / "venv", with_pip=True)
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(tree)],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    )
    if installed.returncode != 0:
        raise Unavailable(f"pip could not install release commit {commit}:\n{installed.stderr[-3000:]}")


def _require_commit(commit: str) -> None:
    if not (REPO / ".git").exists():
        raise Unavailable(f"{REPO} is not a git checkout: commit {commit} of the previous release is missing")
    found = subprocess.run(
        ["git", "-C", str(REPO), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True, text=True
    )
    if found.returncode != 0:
        shallow = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--is-shallow-repository"], capture_output=True, text=True
        ).stdout.strip()
        why = " (the clone is shallow: clone the whole history, or git fetch --unshallow)"
        if shallow != "true":
            why = ""
        raise Unavailable(f"commit {commit} of the previous release is not in this clone's history{why}")

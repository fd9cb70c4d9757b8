"""Fixtures of the compatibility tests: the previous release, built once per run (previous.py), and
the figures of the rolling upgrade, printed at the end of the run."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from .previous import REPO, Release, Unavailable, build

FIGURES = REPO / "test-artifacts" / "rolling-upgrade.json"
_STARTED = time.time()  # figures older than this run are not this run's


@pytest.fixture(scope="session")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """The previous release, installed. Without its commit in the history: skipped on a developer's
    machine, failed with CI=true (CI must run these tests)."""
    # The parent of the per-process temp dir is shared by every test process of this run.
    try:
        return build(tmp_path_factory.getbasetemp().parent)
    except Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the compatibility tests cannot run: {exc}", pytrace=False)
        pytest.skip(str(exc))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES.exists() or FIGURES.stat().st_mtime < _STARTED:
        return
    for run in json.loads(FIGURES.read_text()):
        terminalreporter.write_line(f"rolling upgrade ({run['profile']}): {run['summary']}")


def record_figures(profile: str, figures: dict[str, Any], summary: str) -> Path:
    """Keep one run's figures in test-artifacts/ (one entry per profile), for the summary above."""
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(FIGURES.read_text()) if FIGURES.exists() else []
    runs = [r for r in runs if r["profile"] != profile]
    runs.append({"profile": profile, "summary": summary, **figures})
    FIGURES.write_text(json.dumps(runs, indent=2) + "\n")
    return FIGURES


"""The rolling upgrade's figures: kept in test-artifacts/ by the test that measured them, and printed at
the end of the run. A plugin of the whole test run (tests/conftest.py loads it), because with
pytest-xdist only the process that prints the summary never loads tests/compat/conftest.py."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

FIGURES = Path(__file__).resolve().parents[2] / "test-artifacts" / "rolling-upgrade.json"
_STARTED = time.time()  # figures older than this run are not this run's


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES.exists():
        return
    for run in json.loads(FIGURES.read_text()):
        if run["recorded_at"] >= _STARTED:
            terminalreporter.write_line(f"rolling upgrade ({run['profile']}): {run['summary']}")


def record_figures(profile: str, figures: dict[str, Any], summary: str) -> Path:
    """Keep one run's figures (one entry per profile), for the summary above."""
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(FIGURES.read_text()) if FIGURES.exists() else []
    runs = [r for r in runs if r["profile"] != profile and "recorded_at" in r]
    runs.append({"profile": profile, "recorded_at": time.time(), "summary": summary, **figures})
    FIGURES.write_text(json.dumps(runs, indent=2) + "\n")
    return FIGURES

"""``python -m bench.backup`` runs from start to end at a tiny size and reports every figure, so
``make bench-backup`` never rots. The figures themselves are the machine's, never checked here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench.backup import FIGURES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_backup_benchmark_measures_every_figure(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.backup", "--tasks", "2000", "--runs", "1", "--out", str(tmp_path)]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-6000:]}"

    report = json.loads((tmp_path / "backup.json").read_text())
    assert report["cpu"] and report["cores"] >= 1
    size = report["sizes"]["2000"]
    assert set(size["range"]) == set(FIGURES), proc.stdout
    (run,) = size["runs"]
    assert run["file_mb"] > 0 and set(run["during"]) == {"writes", "failed", "p50_ms", "p99_ms", "max_ms"}

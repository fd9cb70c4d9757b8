"""``python -m bench --quick`` runs from start to end, so the benchmark never rots.

This checks that it runs and produces everything (the JSON with every figure, the chart, the table),
never what the figures are: timings belong to ``make bench`` on a quiet machine, not to tests. etcd is
left out even when installed, to keep the test short; the comparison's code is exercised by the
chart and table tests below with made-up etcd figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from bench.chart import render_svg, write_chart
from bench.figures import ETCD_FIGURE_IDS, FIGURE_IDS, FIGURES, QUICK, SCALE_FIGURE_IDS
from bench.report import format_markdown, format_table, summarize

from tests.needs import WRK

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.needs(WRK)
def test_quick_profile_produces_every_figure_the_json_and_the_chart(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench", "--quick", "--no-etcd", "--out", str(tmp_path)]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-6000:]}"

    data = json.loads((tmp_path / "latest.json").read_text())
    rows = {row["id"]: row for row in data["figures"]}
    assert set(rows) == set(FIGURE_IDS)
    missing = [fid for fid, row in rows.items() if row["todonode"] is None]
    assert not missing, f"not measured: {missing}\n{proc.stdout}"
    assert data["failures"] == []
    assert data["profile"]["name"] == "quick"
    assert data["etcd"] is None and data["etcd_skipped"] is True
    for row in rows.values():
        assert row["result"] in ("PASS", "PASS*", "FAIL", "n/c", "")

    chart = tmp_path / data["chart"]
    assert chart.exists() and chart.stat().st_size > 0
    if chart.suffix == ".svg":
        ET.fromstring(chart.read_text())
    else:
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    markdown = (tmp_path / "latest.md").read_text()
    for figure in FIGURES:  # the table and the markdown one name every figure
        assert figure.title(QUICK).strip() in proc.stdout
        assert f"| {figure.title(QUICK).strip()}" in markdown
    assert data["machine"]["cpu_model"] is None or data["machine"]["cpu_model"] in proc.stdout
    assert "skipped on request" in proc.stdout


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_scale_profile_produces_every_scale_figure(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench", "--scale", "--quick", "--quiet", "--out", str(tmp_path)]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-6000:]}"
    data = json.loads((tmp_path / "scale.json").read_text())
    rows = {row["id"]: row for row in data["figures"]}
    assert set(rows) == set(SCALE_FIGURE_IDS) and data["failures"] == []
    missing = [fid for fid, row in rows.items() if row["todonode"] is None]
    assert not missing, f"not measured: {missing}\n{proc.stdout}"
    assert rows["snapshot_mb"]["todonode"] > 0, "the scale cluster must snapshot while it is filled"
    assert "| elections while filled to 5,000 tasks" in (tmp_path / "scale.md").read_text()


def _fake_run(with_etcd: bool) -> dict:
    figures = {fid: 10.0 + k for k, fid in enumerate(FIGURE_IDS)}
    timeline = {"from_s": -1.0, "bucket_s": 0.05, "acks": [3] * 20 + [0] * 15 + [4] * 35,
                "errors": [0] * 70, "errors_after": 2, "window_s": 0.8}  # fmt: skip
    extras = {"failover": {"timeline": timeline}}
    return {
        "todonode": figures,
        "etcd": {fid: 5.0 for fid in ETCD_FIGURE_IDS} if with_etcd else None,
        "extras": {"todonode": extras, "etcd": extras if with_etcd else {}},
        "failures": [],
        "notes": [],
    }


@pytest.mark.parametrize("with_etcd", [True, False])
def test_table_and_hand_drawn_chart_with_and_without_etcd(tmp_path: Path, with_etcd: bool) -> None:
    etcd = {"binary": "/usr/bin/etcd", "version": "3.4.23"} if with_etcd else None
    summary = summarize([_fake_run(with_etcd)] * 3, QUICK, etcd, 1.0)
    rows = {row["id"]: row for row in summary["figures"]}
    if with_etcd:
        assert rows["writes_c32"]["ratio"] == pytest.approx(rows["writes_c32"]["todonode"] / 5.0)
        assert rows["elections"]["etcd"] == "n/a"
    else:
        assert rows["writes_c1"]["result"] == "n/c"
        assert rows["writes_c32"]["result"] in ("PASS*", "FAIL")
    table = format_table(summary)
    assert ("3.4.23" in table) == with_etcd
    assert ("3.4.23" in format_markdown(summary)) == with_etcd
    assert ("apt-get install -y etcd-server" in table) != with_etcd

    root = ET.fromstring(render_svg(summary["chart_data"]))
    assert root.tag.endswith("svg")
    chart = write_chart(summary["chart_data"], tmp_path)
    assert chart.exists() and chart.stat().st_size > 0

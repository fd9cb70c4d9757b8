"""``python -m bench --tls`` runs from start to end, and etcd over TLS is configured as todonode is:
TLS on both ports, a client certificate required on both. Never the figures: those are for
``make bench TLS=1`` on a quiet machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench.etcd_target import EtcdTarget
from bench.tls_cost import format_table, summarize

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_tls_cost_runs_on_todonode_with_and_without_tls(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench", "--tls", "--quick", "--no-etcd", "--out", str(tmp_path)]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-6000:]}"

    data = json.loads((tmp_path / "tls.json").read_text())
    assert data["failures"] == []
    assert [row["figure"] for row in data["rows"]] == ["writes_c1", "writes_c32", "cpu_ms_c1", "cpu_ms_c32"]
    for row in data["rows"]:
        for name in ("todonode plain", "todonode TLS"):
            assert row[name]["median"] > 0, (name, row)
        assert row["etcd plain"] is None and row["etcd TLS"] is None
    assert "writes/s, concurrency 32 |" in proc.stdout and "CPU ms per write" in proc.stdout


def test_the_table_gives_medians_ranges_and_both_ratios() -> None:
    def run(c1: tuple[float, ...], c32: tuple[float, ...]) -> dict[str, dict[str, float]]:
        names = ("todonode plain", "todonode TLS", "etcd plain", "etcd TLS")
        figures = zip(names, c1, c32, strict=True)
        return {
            name: {"writes_c1": a, "writes_c32": b, "cpu_ms_c1": 1.0, "cpu_ms_c32": 0.5}
            for name, a, b in figures
        }

    runs = [
        run((100, 90, 200, 150), (1000, 800, 2000, 1000)),
        run((110, 100, 200, 150), (1200, 1000, 2000, 1000)),
    ]

    table = format_table(summarize({"per_run": runs, "failures": []}, None, 1.0))

    line = next(line for line in table.splitlines() if line.startswith("writes/s, concurrency 32"))
    assert line.split(" | ") == [
        "writes/s, concurrency 32", "1,100 (1,000–1,200)", "900 (800–1,000)", "0.82×",
        "2,000 (2,000–2,000)", "1,000 (1,000–1,000)", "0.50×", "0.55× / 0.90×",
    ]  # fmt: skip


def test_etcd_over_tls_requires_client_certificates_on_both_ports(tmp_path: Path) -> None:
    target = EtcdTarget(tmp_path / "etcd", http=None, binary="/usr/bin/etcd", certs=tmp_path / "certs")  # type: ignore[arg-type]

    command = target.command(target.members[0])

    assert target.members[0].url.startswith("https://127.0.0.1:")
    for flag in ("--client-cert-auth", "--peer-client-cert-auth"):
        assert flag in command
    for flag, file in (
        ("--cert-file", "m0.crt"),
        ("--trusted-ca-file", "ca.crt"),
        ("--peer-key-file", "m0.key"),
    ):
        assert command[command.index(flag) + 1] == str(tmp_path / "certs" / file)
    assert all(url.startswith("m") and "=https://" in url for url in target.initial_cluster.split(","))

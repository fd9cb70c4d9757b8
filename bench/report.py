"""Runs → one summary: medians per figure, todonode/etcd ratios, targets checked; the table; the JSON."""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .etcd_target import INSTALL_HINT
from .figures import FIGURES, Figure, Profile


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def median_of(runs: list[dict[str, Any]], system: str, figure_id: str) -> float | None:
    values = [_number((run.get(system) or {}).get(figure_id)) for run in runs]
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(
    runs: list[dict[str, Any]],
    profile: Profile,
    etcd: dict[str, str] | None,
    seconds: float,
    etcd_skipped: bool = False,
) -> dict[str, Any]:
    with_etcd = etcd is not None
    rows = []
    for figure in FIGURES:
        mine = median_of(runs, "todonode", figure.id)
        theirs = median_of(runs, "etcd", figure.id) if with_etcd and figure.on_etcd else None
        ratio = mine / theirs if figure.ratio and mine is not None and theirs else None
        result, footnote = figure.evaluate(mine, theirs if with_etcd else None)
        rows.append(
            {
                "id": figure.id,
                "label": figure.title(profile).strip(),
                "unit": figure.unit,
                "todonode": mine,
                "etcd": theirs if figure.on_etcd else "n/a",
                "ratio": ratio,
                "target": figure.target,
                "result": result,
                "footnote": footnote,
                "per_run": [(run.get("todonode") or {}).get(figure.id) for run in runs],
            }
        )
    last = runs[-1]
    notes = [note for run in runs for note in run["notes"]]
    failures = [f for run in runs for f in run["failures"]]
    summary = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "profile": asdict(profile),
        "runs": len(runs),
        "seconds": round(seconds, 1),
        "todonode": {"members": 4, "config": "shipped default timings, fsync = true"},
        "etcd": etcd,
        "etcd_skipped": etcd_skipped,
        "etcd_hint": None if with_etcd or etcd_skipped else f"etcd not found: {INSTALL_HINT}",
        "figures": rows,
        "chart_data": _chart_data(rows, last, with_etcd),
        "notes": notes,
        "failures": failures,
        "per_run": [{k: v for k, v in run.items() if k != "failures"} for run in runs],
    }
    return summary


def machine() -> dict[str, Any]:
    """What the figures are measured on, and how busy it is now."""
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": _proc_field("/proc/cpuinfo", "model name"),
        "memory": _proc_field("/proc/meminfo", "MemTotal"),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def _chart_data(rows: list[dict[str, Any]], last: dict[str, Any], with_etcd: bool) -> dict[str, Any]:
    by_id = {row["id"]: row for row in rows}
    systems = ["todonode", "etcd"] if with_etcd else ["todonode"]
    concurrencies = [1, 8, 32]

    def value(system: str, figure_id: str) -> float | None:
        v = by_id[figure_id][system]
        return v if isinstance(v, int | float) else None

    return {
        "concurrency": concurrencies,
        "throughput": {s: [value(s, f"writes_c{c}") for c in concurrencies] for s in systems},
        "latency": {
            s: {
                "p50": [value(s, f"p50_c{c}") for c in concurrencies],
                "p99": [value(s, f"p99_c{c}") for c in concurrencies],
            }
            for s in systems
        },
        "failover": {
            s: ((last["extras"].get(s) or {}).get("failover") or {}).get("timeline") for s in systems
        },
    }


# ------------------------------------------------------------------------------------------ the table


def _shown(value: Any, figure: Figure) -> str:
    if value == "n/a":
        return "n/a"
    if value is None:
        return "—"
    digits = figure.digits
    if figure.unit == "/s":
        digits = 0
    return f"{value:,.{digits}f}"


def format_table(summary: dict[str, Any]) -> str:
    figures = {f.id: f for f in FIGURES}
    header = ("figure", "todonode", "etcd", "ratio", "target", "result")
    widths = (50, 11, 11, 7, 24, 6)
    lines = [
        "  ".join(
            h.ljust(w) if i in (0, 4, 5) else h.rjust(w)
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    ]
    lines.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
    footnotes: list[str] = []
    for row in summary["figures"]:
        figure = figures[row["id"]]
        label = figure.title(_profile(summary)) + (
            f" ({figure.unit})" if figure.unit not in ("", "×") else ""
        )
        ratio = f"{row['ratio']:.2f}×" if row["ratio"] is not None else ("" if row["etcd"] == "n/a" else "—")
        cells = (
            label,
            _shown(row["todonode"], figure),
            _shown(row["etcd"], figure),
            ratio,
            row["target"],
            row["result"],
        )
        lines.append(
            "  ".join(
                c.ljust(w) if i in (0, 4, 5) else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )
        if row["footnote"] and row["footnote"] not in footnotes:
            footnotes.append(row["footnote"])
    out = "\n".join(lines)
    runs = summary["runs"]
    out += (
        f"\n\nvalues are medians of {runs} runs"
        if runs > 1
        else "\n\nvalues are from 1 run (RUNS=N for medians)"
    )
    out += "; ratio = todonode ÷ etcd (for latencies and failover, lower is better)."
    if summary["profile"]["name"] == "quick":
        out += "\nQUICK profile: tiny sizes that only show the benchmark works; the figures mean nothing."
    if summary["etcd"] is None and summary["etcd_skipped"]:
        out += "\nNo etcd comparison: skipped on request (--no-etcd, or make bench ETCD=0)."
    elif summary["etcd"] is None:
        out += f"\nNo etcd comparison in this run. To get it: {INSTALL_HINT}; then `make bench` again."
    else:
        out += f"\netcd {summary['etcd']['version']} ({summary['etcd']['binary']}), its default timings."
    out += "\n" + describe_machine(summary["machine"])
    for note in footnotes:
        out += f"\n* {note}"
    for note in summary["notes"]:
        out += f"\nnote: {note}"
    for failure in summary["failures"]:
        out += f"\nFAILED: {failure['target']} {failure['workload']}: {failure['error']}"
    return out


def describe_machine(machine: dict[str, Any]) -> str:
    """One line: what the figures were measured on, and how busy it was."""
    load = machine.get("load_average")
    busy = f"load average {load[0]:.2f} as the run ended" if load else "load unknown"
    cpu = machine.get("cpu_model") or "unknown CPU"
    memory = machine.get("memory") or "unknown memory"
    return (
        f"machine: {machine['cpus']} CPUs ({cpu}), {memory}, Linux {machine.get('kernel', '?')}, "
        f"Python {machine['python']}; every node, etcd member and client on it; {busy}."
    )


def _profile(summary: dict[str, Any]) -> Profile:
    p = dict(summary["profile"])
    p["writes"] = {int(k): v for k, v in p["writes"].items()}
    return Profile(**p)


def _proc_field(path: str, name: str) -> str | None:
    """The first ``name: value`` line of a /proc file (Linux), for describing the machine."""
    try:
        for line in Path(path).read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    except OSError:
        pass
    return None

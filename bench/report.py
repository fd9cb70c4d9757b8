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
from .figures import FIGURES, SCALE_FIGURES, Figure, Profile


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def per_run(runs: list[dict[str, Any]], system: str, figure_id: str) -> list[float | None]:
    return [_number((run.get(system) or {}).get(figure_id)) for run in runs]


def median_of(runs: list[dict[str, Any]], system: str, figure_id: str) -> float | None:
    present = [v for v in per_run(runs, system, figure_id) if v is not None]
    return statistics.median(present) if present else None


def _ratios(runs: list[dict[str, Any]], figure_id: str) -> list[float]:
    """todonode ÷ etcd in each run that measured both: a ratio is only fair within one run."""
    pairs = zip(per_run(runs, "todonode", figure_id), per_run(runs, "etcd", figure_id), strict=True)
    return [mine / theirs for mine, theirs in pairs if mine is not None and theirs]


def _with_runs_meeting(figure: Figure, runs: list[dict[str, Any]], result: str, with_etcd: bool) -> str:
    """The result on the medians, with "k/n runs" added when not every run meets the target."""
    if not result.startswith("PASS") or len(runs) < 2:
        return result
    theirs = per_run(runs, "etcd", figure.id) if with_etcd and figure.on_etcd else [None] * len(runs)
    mine = per_run(runs, "todonode", figure.id)
    met = sum(
        figure.evaluate(m, t if with_etcd else None)[0].startswith("PASS")
        for m, t in zip(mine, theirs, strict=True)
    )
    return result if met == len(runs) else f"{result} {met}/{len(runs)} runs"


def summarize(
    runs: list[dict[str, Any]],
    profile: Profile,
    etcd: dict[str, str] | None,
    seconds: float,
    etcd_skipped: bool = False,
    scale: bool = False,
) -> dict[str, Any]:
    """``scale``: runs of ``make bench-scale`` (SCALE_FIGURES, no etcd, no chart)."""
    with_etcd = etcd is not None
    rows = []
    for figure in SCALE_FIGURES if scale else FIGURES:
        mine = median_of(runs, "todonode", figure.id)
        theirs = median_of(runs, "etcd", figure.id) if with_etcd and figure.on_etcd else None
        ratio = mine / theirs if figure.ratio and mine is not None and theirs else None
        ratios = _ratios(runs, figure.id) if figure.ratio and with_etcd and figure.on_etcd else []
        result, footnote = figure.evaluate(mine, theirs if with_etcd else None)
        result = _with_runs_meeting(figure, runs, result, with_etcd)
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
                "per_run": per_run(runs, "todonode", figure.id),
                "per_run_etcd": per_run(runs, "etcd", figure.id) if with_etcd and figure.on_etcd else None,
                "ratio_range": [min(ratios), max(ratios)] if ratios else None,
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
        "scale": scale,
        "figures": rows,
        "chart_data": None if scale else _chart_data(rows, last, with_etcd),
        "physical": [run["extras"].get("physical") for run in runs],
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


def _spread(values: list[float | None] | None, figure: Figure) -> str:
    """min–max over the runs, as the table shows values."""
    present = [v for v in values or [] if v is not None]
    if len(present) < 2:
        return ""
    return f"{_shown(min(present), figure)}–{_shown(max(present), figure)}"


def _ratio_spread(row: dict[str, Any]) -> str:
    low_high = row["ratio_range"]
    return f"{low_high[0]:.2f}–{low_high[1]:.2f}×" if low_high and low_high[0] != low_high[1] else ""


def _figures_of(summary: dict[str, Any]) -> dict[str, Figure]:
    return {f.id: f for f in (SCALE_FIGURES if summary.get("scale") else FIGURES)}


def format_table(summary: dict[str, Any]) -> str:
    figures = _figures_of(summary)
    header = ("figure", "todonode", "runs", "etcd", "ratio", "runs", "target", "result")
    widths = (62, 10, 15, 10, 7, 13, 24, 6)
    left = (0, 6, 7)
    lines = [
        "  ".join(
            h.ljust(w) if i in left else h.rjust(w)
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
            _spread(row["per_run"], figure),
            _shown(row["etcd"], figure),
            ratio,
            _ratio_spread(row),
            row["target"],
            row["result"],
        )
        lines.append(
            "  ".join(
                c.ljust(w) if i in left else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )
        if row["footnote"] and row["footnote"] not in footnotes:
            footnotes.append(row["footnote"])
    out = "\n".join(lines)
    runs = summary["runs"]
    out += "\n\n" + _how_to_read(runs)
    if summary["profile"]["name"] == "quick":
        out += "\nQUICK profile: tiny sizes that only show the benchmark works; the figures mean nothing."
    if summary["etcd"] is None and summary["etcd_skipped"]:
        out += "\nNo etcd comparison: skipped on request (--no-etcd, or make bench ETCD=0)."
    elif summary["etcd"] is None:
        out += f"\nNo etcd comparison in this run. To get it: {INSTALL_HINT}; then `make bench` again."
    else:
        out += f"\netcd {summary['etcd']['version']} ({summary['etcd']['binary']}), its default timings."
    out += "\n" + describe_machine(summary["machine"])
    out += _describe_limit(summary)
    for note in footnotes:
        out += f"\n* {note}"
    for note in summary["notes"]:
        out += f"\nnote: {note}"
    for failure in summary["failures"]:
        out += f"\nFAILED: {failure['target']} {failure['workload']}: {failure['error']}"
    return out


def _how_to_read(runs: int) -> str:
    told = (
        f"values are medians of {runs} runs, with the lowest and highest run beside them (runs)"
        if runs > 1
        else "values are from 1 run (RUNS=N for medians and the run-by-run range)"
    )
    return told + (
        "; ratio = todonode ÷ etcd, taken within each run (for latencies and failover, lower is better);"
        " a result is for the medians, and says how many runs met the target when not all did."
    )


def format_markdown(summary: dict[str, Any]) -> str:
    """The table for the README: every figure with its run-by-run range, and what it was measured on."""
    figures = _figures_of(summary)
    lines = ["| figure | todonode | etcd | ratio | target | result |", "|---|---:|---:|---:|---|---|"]
    for row in summary["figures"]:
        figure = figures[row["id"]]
        unit = f" ({figure.unit})" if figure.unit not in ("", "×") else ""
        label = figure.title(_profile(summary)).strip() + unit

        def cell(value: Any, values: list[float | None] | None, fig: Figure = figure) -> str:
            spread = _spread(values, fig)
            return _shown(value, fig) + (f" ({spread})" if spread else "")

        ratio = f"{row['ratio']:.2f}×" if row["ratio"] is not None else ""
        if spread := _ratio_spread(row):
            ratio += f" ({spread})"
        etcd = cell(row["etcd"], row["per_run_etcd"]) if row["etcd"] != "n/a" else "n/a"
        lines.append(
            f"| {label} | {cell(row['todonode'], row['per_run'])} | {etcd} | {ratio} | {row['target']} "
            f"| {row['result']} |"
        )
    etcd = summary["etcd"]
    lines += [
        "",
        _how_to_read(summary["runs"]),
        f"etcd {etcd['version']}, its default timings." if etcd else "No etcd in this run.",
        describe_machine(summary["machine"]) + _describe_limit(summary),
    ]
    return "\n".join(lines) + "\n"


def _describe_limit(summary: dict[str, Any]) -> str:
    """What the physical limit was made of in each run (bench/physical.py)."""
    parts = [
        f"fsync {p['fsync_ms']:.3f} ms + loopback round trip {p['loopback_rtt_ms']:.3f} ms"
        for p in summary.get("physical") or []
        if p
    ]
    return f"\nphysical limit (medians, per run): {'; '.join(parts)}." if parts else ""


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

"""``python -m bench [--quick] [--runs N] [--no-etcd] [--out DIR] [--tls | --scale]``: make bench.

Starts a fresh local four-node todonode cluster (and, when etcd is installed, a four-member etcd
cluster) in temporary directories on free loopback ports, runs every workload against it, stops
everything, prints one table (figure, todonode, etcd, ratio, target, pass/fail) and writes
``latest.json``, a chart (``latest.png``, or ``latest.svg`` without matplotlib) and every member's
log (``logs/``) to ``--out`` (default ``bench/results/``). Figures are as measured, with whatever
else the machine is doing: compare medians of several runs (``--runs 3``) on a quiet machine.

``--tls`` measures what TLS costs instead: writes/s with and without it, on both systems
(``tls_cost.py``). ``--scale`` (``make bench-scale``) measures todonode alone at a million tasks
(``SCALE_FIGURES``): it fills a fresh cluster, which snapshots along the way, and writes ``scale.json``
and ``scale.md``; with ``--quick``, at 5,000 tasks.

Exit status: 0 when every workload ran (whatever the figures), 1 when one failed, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any

from . import tls_cost
from .chart import write_chart
from .etcd_target import INSTALL_HINT, etcd_version, find_etcd
from .figures import FULL, QUICK, SCALE, SCALE_QUICK, Profile
from .progress import Progress
from .report import format_markdown, format_table, summarize
from .runner import run_once, run_scale_once

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, under a minute: checks it runs")
    parser.add_argument("--runs", type=int, default=1, help="run everything N times and report medians")
    parser.add_argument("--no-etcd", action="store_true", help="skip the etcd comparison even if installed")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.json and the chart go")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.add_argument("--tls", action="store_true", help="what TLS costs: writes/s with and without it")
    parser.add_argument("--scale", action="store_true", help="the figures at a million tasks (scale.json)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def _clean(value: Any) -> Any:
    """JSON has no NaN: unmeasured values become null."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


async def _main(args: argparse.Namespace) -> int:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)  # so every cluster is still killed by PID

    profile = QUICK if args.quick else FULL
    progress = Progress(enabled=not args.quiet)
    binary = None if args.no_etcd else find_etcd()
    etcd = {"binary": binary, "version": etcd_version(binary)} if binary else None
    if etcd is None and not args.no_etcd:
        progress.note(f"etcd not found, measuring todonode alone ({INSTALL_HINT})")
    started = time.monotonic()
    if args.tls:
        return await _tls_cost(args, profile, binary, etcd, progress, started)
    if args.scale:
        return await _at_scale(args, progress, started)
    runs = []
    for n in range(args.runs):
        if args.runs > 1:
            progress.note(f"run {n + 1} of {args.runs}")
        runs.append(await run_once(profile, binary, progress, logs=args.out / "logs"))
    progress.finish()
    summary = summarize(runs, profile, etcd, time.monotonic() - started, etcd_skipped=args.no_etcd)

    args.out.mkdir(parents=True, exist_ok=True)
    chart = write_chart(summary["chart_data"], args.out)
    summary["chart"] = chart.name
    path = args.out / "latest.json"
    path.write_text(json.dumps(_clean(summary), indent=2, ensure_ascii=False) + "\n")
    markdown = args.out / "latest.md"
    markdown.write_text(format_markdown(summary))

    print(format_table(summary))
    print(f"\nresults: {path}\ntable:   {markdown} (markdown, for the README)")
    print(f"chart:   {chart}\nlogs:    {args.out / 'logs'}/ (every member's, last run)")
    print(f"took {summary['seconds']:.0f} s")
    return 1 if summary["failures"] else 0


async def _at_scale(args: argparse.Namespace, progress: Progress, started: float) -> int:
    profile = SCALE_QUICK if args.quick else SCALE
    runs = []
    for n in range(args.runs):
        if args.runs > 1:
            progress.note(f"run {n + 1} of {args.runs}")
        runs.append(await run_scale_once(profile, progress, logs=args.out / "logs"))
    progress.finish()
    summary = summarize(runs, profile, None, time.monotonic() - started, etcd_skipped=True, scale=True)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "scale.json"
    path.write_text(json.dumps(_clean(summary), indent=2, ensure_ascii=False) + "\n")
    markdown = args.out / "scale.md"
    markdown.write_text(format_markdown(summary))
    print(format_table(summary))
    print(
        f"\nresults: {path}\ntable:   {markdown} (markdown, for the README)\ntook {summary['seconds']:.0f} s"
    )
    return 1 if summary["failures"] else 0


async def _tls_cost(
    args: argparse.Namespace,
    profile: Profile,
    binary: str | None,
    etcd: dict[str, str] | None,
    progress: Progress,
    started: float,
) -> int:
    measured = await tls_cost.measure(profile, binary, args.runs, progress)
    progress.finish()
    summary = tls_cost.summarize(measured, etcd, time.monotonic() - started)
    print(tls_cost.format_table(summary))
    print(f"\nresults: {tls_cost.write(_clean(summary), args.out)}")
    return 1 if summary["failures"] else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\ninterrupted: every process started was killed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

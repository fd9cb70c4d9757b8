"""A long chaos run against real processes: ``python -m tests.chaos --minutes 30 --seed 7``.

Prints a live progress line while it runs and the summary table at the end; on a violation, the seed
and the history excerpt that breaks the rule. The history, the report and the nodes' logs stay in
``--out`` (default ``test-artifacts/chaos-<seed>-<time>``). Exit status 0 when every check passed.

Profile ``auto`` (the default) uses network namespaces when it can (root and iproute2) and falls back
to loopback with process faults only, saying so.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path

from tests.needs import NETNS

from .runner import ChaosOptions, chaos_cluster, resolve_profile, run_chaos
from .workload import WorkloadOptions


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the fault phase")
    parser.add_argument("--seed", type=int, default=1, help="seeds the fault schedule and the clients")
    parser.add_argument("--profile", default="auto", choices=["auto", "netns", "loopback"])
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument(
        "--snapshot-every", type=int, default=200, help="entries between snapshots (small: more installs)"
    )
    parser.add_argument("--out", type=Path, help="where to keep the history, the report and the logs")
    args = parser.parse_args(argv)

    profile = resolve_profile(args.profile)
    if args.profile == "auto" and profile == "loopback":
        print(f"network namespaces unavailable ({NETNS.missing}): loopback profile, no partitions")
    out = args.out or Path("test-artifacts") / f"chaos-{args.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    out = out.absolute()
    options = ChaosOptions(
        seed=args.seed,
        duration_s=args.minutes * 60,
        profile=profile,
        workload=WorkloadOptions(clients=args.clients),
        artifacts=out,
    )
    # SIGTERM unwinds like Ctrl-C, so the teardown kills the nodes and removes the namespaces.
    signal.signal(signal.SIGTERM, _interrupt)
    tty = sys.stderr.isatty()
    last = [0.0]

    def progress(line: str) -> None:
        if tty:
            sys.stderr.write("\r\033[K" + line[:200])
        elif time.monotonic() - last[0] >= 10:  # a log file gets a line every 10 s
            sys.stderr.write(line + "\n")
            last[0] = time.monotonic()
        sys.stderr.flush()

    print(
        f"chaos: seed {args.seed}, profile {profile}, {args.nodes} nodes, {args.minutes:g} min; "
        f"files in {out}"
    )
    storage = {"snapshot_every": args.snapshot_every}
    with chaos_cluster(profile, out / "cluster", args.nodes, storage=storage) as (cluster, network):
        report = asyncio.run(run_chaos(cluster, network, options, progress))
    if tty:
        sys.stderr.write("\n")
    print(report.table())
    if not report.ok:
        print(report.failure_text())
        print(f"replay the schedule with: make chaos MINUTES={args.minutes:g} SEED={args.seed}")
    print(f"history, report and node logs: {out}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

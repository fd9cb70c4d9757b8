"""Run many seeded schedules through the simulator: ``python -m tests.sim --seeds 20000``.

Prints a progress line while it runs and a summary at the end; a failing seed is printed with the
trace that led to it, and ``--seed N --trace`` replays exactly that schedule.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from .runner import SeedResult, run_seed


def _progress(done: int, total: int, steps: int, started: float) -> None:
    elapsed = time.monotonic() - started
    rate = steps / elapsed if elapsed else 0.0
    sys.stderr.write(f"\r{done}/{total} schedules, {steps:,} steps, {rate:,.0f} steps/s   ")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sim")
    parser.add_argument("--seeds", type=int, default=1000, help="how many schedules to run")
    parser.add_argument("--first", type=int, default=0, help="first seed")
    parser.add_argument("--steps", type=int, default=3000, help="fault-phase steps per schedule")
    parser.add_argument("--seed", type=int, help="run just this seed")
    parser.add_argument("--trace", action="store_true", help="print every event (with --seed)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)

    if args.seed is not None:
        result = run_seed(args.seed, args.steps, trace_all=args.trace)
        print(result.summary())
        return 0 if result.failure is None else 1

    seeds = range(args.first, args.first + args.seeds)
    started = time.monotonic()
    results: list[SeedResult] = []
    steps = 0
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for result in pool.map(run_seed, seeds, [args.steps] * len(seeds), chunksize=8):
            results.append(result)
            steps += result.steps
            if result.failure:
                sys.stderr.write("\n" + result.summary() + "\n")
            if len(results) % 20 == 0 or len(results) == len(seeds):
                _progress(len(results), len(seeds), steps, started)
    sys.stderr.write("\n")
    elapsed = time.monotonic() - started
    failed = [r for r in results if r.failure]
    failovers = [ms for r in results for ms in r.failover_ms]
    print(
        f"schedules: {len(results)}  steps: {steps:,}  wall: {elapsed:.1f} s  "
        f"({steps / elapsed:,.0f} steps/s on {args.jobs} processes)"
    )
    changed = [r.membership_changes for r in results if r.membership_changes]
    print(f"membership changes: {sum(changed):,} in {len(changed)} schedules")
    if failovers:
        print(
            f"simulated failover after leader crash: median {statistics.median(failovers):.0f} ms, "
            f"max {max(failovers):.0f} ms over {len(failovers)} crashes"
        )
    print(
        f"failed schedules: {len(failed)}" + (f" (seeds {[r.seed for r in failed][:20]})" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

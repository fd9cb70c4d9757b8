"""The flake hunt: `make test` run again and again on this machine, every failure listed per run.

A test that fails once in ten runs is a test people learn to re-run; this finds them. Nothing stops the
loop early: each run is independent, and the summary at the end names every failed test of every run.

    python -m tests.flake --runs 10 [--log-dir test-artifacts/flake]
"""

import argparse
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# pytest's short summary names each failed or erroring test on a line of its own.
_FAILURE_LINE = re.compile(r"^(FAILED|ERROR) (\S+)")
_OUTCOME_LINE = re.compile(r"^=*\s*(\d+ (passed|failed|error|skipped).*) in [\d.]+s")


@dataclass
class Run:
    number: int
    exit_code: int
    seconds: float
    outcome: str
    failures: list[str]


def run_once(number: int, command: list[str], log_dir: Path) -> Run:
    log = log_dir / f"run-{number:02d}.log"
    started = time.monotonic()
    with log.open("w") as out:
        completed = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - started
    failures, outcomes = [], []
    for line in log.read_text(errors="replace").splitlines():
        if match := _FAILURE_LINE.match(line):
            failures.append(f"{match[1]} {match[2]}")
        elif match := _OUTCOME_LINE.match(line):
            outcomes.append(match[1])
    if completed.returncode != 0 and not failures:
        failures.append(f"exit status {completed.returncode} with no failed test named (see {log})")
    return Run(number, completed.returncode, seconds, "; ".join(outcomes) or "no summary line", failures)


def report(runs: list[Run]) -> str:
    lines = ["", "flake hunt: one line per run, then every failure"]
    for run in runs:
        verdict = "green" if run.exit_code == 0 else "RED"
        lines.append(f"run {run.number:2d}: {verdict:5s} {run.seconds:6.0f}s  {run.outcome}")
        lines.extend(f"        {failure}" for failure in run.failures)
    counts: dict[str, int] = {}
    for run in runs:
        for failure in run.failures:
            counts[failure] = counts.get(failure, 0) + 1
    red = sum(run.exit_code != 0 for run in runs)
    lines.append(f"{len(runs) - red} of {len(runs)} runs green")
    for failure, times in sorted(counts.items(), key=lambda item: -item[1]):
        lines.append(f"  {times}x {failure}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--log-dir", type=Path, default=Path("test-artifacts/flake"))
    parser.add_argument("command", nargs="*", help="what one run is (default: make test)")
    args = parser.parse_args()
    command = args.command or ["make", "--no-print-directory", "test"]
    args.log_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for number in range(1, args.runs + 1):
        run = run_once(number, command, args.log_dir)
        runs.append(run)
        line = f"run {number}/{args.runs}: exit {run.exit_code} in {run.seconds:.0f}s, {run.outcome}"
        print(line, flush=True)
        for failure in run.failures:
            print(f"    {failure}", flush=True)
    summary = report(runs)
    print(summary)
    (args.log_dir / "summary.txt").write_text(summary + "\n")
    return 0 if all(run.exit_code == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())

"""``python -m tests.abuse [--short] [--only NAME ...]`` — what ``make abuse`` runs: the hostile-client
suite against a fresh three-node cluster in a temporary directory (every node killed by PID at the
end), printing the closing table and writing every figure to ``test-artifacts/abuse.json``.

Exit status: 0 when every defence held (no problem found), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

import aiohttp

from tests.integration.harness import Client, ProcessCluster

from .attacks import ATTACKS
from .suite import FULL, SHORT, SIZE, cluster_options, cpu_model, run_suite, table

OUT = Path(__file__).resolve().parents[2] / "test-artifacts" / "abuse.json"


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.abuse", description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the short profile of make test")
    parser.add_argument("--only", nargs="+", choices=list(ATTACKS), help="these attacks only")
    args = parser.parse_args(argv)
    profile = SHORT if args.short else FULL
    with tempfile.TemporaryDirectory(prefix="todonode-abuse-") as root:
        cluster = ProcessCluster(Path(root), SIZE, **cluster_options(profile))
        try:
            async with aiohttp.ClientSession() as session:
                results = await run_suite(cluster, Client(session, timeout=30), profile, args.only)
        finally:
            cluster.close()
    cpu = cpu_model()
    print(table(results, cpu))
    for result in results:
        print(f"{result.attack}: {json.dumps(result.stats)}")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(
        json.dumps({"profile": profile.name, "cpu": cpu, "results": [r.row() for r in results]}, indent=2)
    )
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))

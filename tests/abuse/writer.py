"""``python -m tests.abuse.writer URL SECONDS``: the suite's writer, in a process of its own; prints its
latencies and failures as JSON (scene.py reads them)."""

from __future__ import annotations

import asyncio
import json
import sys

from .scene import write_for

if __name__ == "__main__":
    latencies = asyncio.run(write_for(sys.argv[1], float(sys.argv[2])))
    print(json.dumps({"seconds": latencies.seconds, "failures": latencies.failures}))

"""At start a node raises its open-file limit to what its connection caps need, and when the hard
limit does not allow that, takes fewer connections instead of failing on them. Run in a child
process, whose limits the test may lower."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

from tests.api.conftest import write_config

PROBE = """
import json, resource, sys
from todonode.api.connections import files_needed, fit_open_files
from todonode.config import load_config
config = load_config(sys.argv[1], environ={"TODONODE_SECRET": "s"})
fitted = fit_open_files(config)
print(json.dumps({"need": files_needed(config), "soft": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                  "max_connections": fitted.api.max_connections}))
"""


def probe(config: Path, soft: int, hard: int) -> tuple[dict[str, int], str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(config)],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def test_the_soft_limit_is_raised_to_what_the_caps_need(tmp_path: Path) -> None:
    config = write_config(tmp_path, api={"max_connections": 1500})
    seen, _ = probe(config, 256, 4096)
    assert seen["soft"] == seen["need"] > 1500 and seen["max_connections"] == 1500


def test_below_the_hard_limit_the_node_takes_fewer_connections_and_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path, api={"max_connections": 1500})
    seen, log = probe(config, 256, 1024)
    assert seen["soft"] == 1024
    assert seen["max_connections"] == 1500 - (seen["need"] - 1024)
    assert "open-file limit is 1024" in log and "ulimit -n" in log

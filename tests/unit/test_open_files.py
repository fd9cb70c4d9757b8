"""At start a node raises its open-file limit to what its connection caps need, and when the hard
limit does not allow that, takes fewer connections instead of failing on them. Run in a child
process, whose limits the test may lower."""

from __future__ import annotations

import dataclasses
import json
import resource
import subprocess
import sys
from pathlib import Path

from tests.api.conftest import SECRET, load, write_config
from tests.integration.harness import free_port
from todonode.api.connections import Connections, files_needed

PROBE = """
import json, resource, sys
from todonode.api.connections import files_needed, fit_open_files
from todonode.config import load_config
config = load_config(sys.argv[1], environ={"TODONODE_SECRET": sys.argv[2]})
fitted = fit_open_files(config)
print(json.dumps({"need": files_needed(config), "soft": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                  "max_connections": fitted.api.max_connections}))
"""


def probe(config: Path, soft: int, hard: int) -> tuple[dict[str, int], str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(config), SECRET],
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


def test_a_peer_listener_takes_one_more_file_and_keeps_no_client_places_for_peers(tmp_path: Path) -> None:
    alone = load(write_config(tmp_path))
    others = tuple(f"http://127.0.0.{n}:{alone.node.port}" for n in (2, 3))
    shared = dataclasses.replace(
        alone, cluster=dataclasses.replace(alone.cluster, nodes=(*alone.cluster.nodes, *others))
    )
    split = dataclasses.replace(shared, node=dataclasses.replace(shared.node, peer_port=free_port()))
    assert files_needed(split) == files_needed(shared) + 1
    assert Connections(shared, frozenset()).budget.peer_reserve > 0
    assert Connections(split, frozenset()).budget.peer_reserve == 0

"""The OpenAPI contract, fuzzed by schemathesis against real nodes: a one-node cluster, and a follower of
a three-node cluster (so every write is forwarded to the leader).

schemathesis generates requests from ``GET /openapi.json`` (examples, boundary values, random and invalid
data, and sequences that follow the schema's links) and runs every check it has on every response: no
server error (a 503 must say Retry-After), a status, content type, headers and body the schema
describes, valid data accepted and invalid data refused, a 405 that lists exactly the methods a path
has, deleted tasks gone. ``schemathesis.toml`` declares the refusals that depend on what the cluster
holds (a stale If-Match, a reused Idempotency-Key, a min_index too far ahead) and ``hooks.py`` checks
that each comes only for its reason, and that every error body is ``{"error", "message"}``. The seed
and the number of examples are fixed here, so a run is reproducible; ``make fuzz`` runs the same
tests with many more examples
(``TODONODE_FUZZ_EXAMPLES``, ``TODONODE_FUZZ_SEED``).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.harness import SECRET, Client, ProcessCluster, find_leader

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SEED = int(os.environ.get("TODONODE_FUZZ_SEED", "20261127"))
EXAMPLES = int(os.environ.get("TODONODE_FUZZ_EXAMPLES", "4"))
CHECKS = "all"  # schemathesis' own checks and the two of hooks.py
# A read with ?min_index beyond what exists waits write_wait_ms before its 503: keep that short.
TIMINGS = {"write_wait_ms": 300}


def schemathesis(url: str, workdir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """Run schemathesis against the schema at ``url``; it keeps its crash cache in ``workdir``."""
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{url}/openapi.json",
        "--checks",
        CHECKS,
        "--seed",
        str(SEED),
        "--max-examples",
        str(EXAMPLES),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        "--no-color",
        # The stream never ends: it has tests of its own (tests/api/test_status_and_events.py).
        "--exclude-path",
        "/events",
        # With the secret, transfer-leader is fuzzed past its 401.
        "--header",
        f"Authorization: Bearer {SECRET}",
        *options,
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks", "PYTHONPATH": str(ROOT)}
    timeout = 600 + 30 * EXAMPLES
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir, timeout=timeout)


async def fuzz(cluster: ProcessCluster, url: str, *options: str) -> None:
    result = await asyncio.to_thread(schemathesis, url, cluster.root, *options)
    report = result.stdout[-12000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "passed" in result.stdout, report
    logs = cluster.logs()
    assert "Traceback" not in logs and "CRITICAL" not in logs, logs


async def test_a_node_keeps_its_contract_whatever_it_is_sent(make_cluster, client: Client):
    cluster = make_cluster(1, timings=TIMINGS, log_level="info")
    cluster.start_all()
    leader = await find_leader(client, cluster)
    await fuzz(cluster, leader.url)


async def test_a_follower_keeps_the_contract_while_forwarding_writes(make_cluster, client: Client):
    cluster = make_cluster(3, timings=TIMINGS, log_level="info")
    cluster.start_all()
    leader = await find_leader(client, cluster)
    follower = next(node for node in cluster.nodes if node is not leader)
    # The task endpoints, which a follower forwards or answers itself; the rest is the one-node run's.
    await fuzz(cluster, follower.url, "--include-path-regex", "^/tasks")

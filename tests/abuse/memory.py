"""What a node process holds, read from /proc (Linux)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.harness import NodeProcess


def rss_bytes(node: NodeProcess) -> int:
    """The node's resident set size now."""
    assert node.proc is not None
    for line in Path(f"/proc/{node.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {node.id}")

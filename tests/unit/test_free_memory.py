"""The pages glibc's allocator holds free go back to the system when the node asks."""

from __future__ import annotations

import os
import platform

import pytest

from todonode.node.free_memory import page_releaser


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_memory_freed_between_live_blocks_goes_back_to_the_system() -> None:
    release = page_releaser()
    release()
    # Blocks under the allocator's mmap threshold go to its heap; a small live block after each
    # keeps the heap from shrinking at its top when the large ones are freed.
    kept, freed = [], []
    for _ in range(1500):
        freed.append(os.urandom(60_000))
        kept.append(bytearray(600))
    del freed
    before = rss_mb()
    release()
    assert before - rss_mb() > 40, "most of the 90 MB freed is back with the system"
    assert len(kept) == 1500

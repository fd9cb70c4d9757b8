"""Giving back to the system the memory the C allocator holds free.

glibc's allocator keeps what a process frees inside its heap, for the next allocation, and returns
it only from the heap's very top. A node frees much in passing (request bodies, the commands of
batch writes, the pieces of an encoded snapshot) between blocks it keeps, so the heap grew by
about 60 MB at a million tasks and never shrank (docs/performance.md#where-the-memory-goes).
``malloc_trim(0)`` hands every free page of every arena back; it takes milliseconds, so the node
calls it at the points it already settles its memory (node/applied.py), not on every write.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable


def page_releaser() -> Callable[[], None]:
    """A function that returns the allocator's free pages to the system; one that does nothing
    where the C library has no ``malloc_trim`` (it is glibc's own)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the symbols the process has loaded, libc's among them
    except (OSError, AttributeError):
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def release() -> None:
        trim(0)

    return release

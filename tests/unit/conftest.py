"""Fixtures shared by the module tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture
def no_umask() -> Iterator[None]:
    """A umask of 0: whatever is created private under it was created so, not narrowed by the umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)

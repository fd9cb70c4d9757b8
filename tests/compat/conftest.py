"""Fixtures of the compatibility tests: the previous release, built once per run (previous.py)."""

from __future__ import annotations

import os

import pytest

from .previous import Release, Unavailable, build


@pytest.fixture(scope="session")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """The previous release, installed. Without its commit in the history: skipped on a developer's
    machine, failed with CI=true (CI must run these tests)."""
    # Under pytest-xdist each test process has its own temp dir in one shared by the whole run.
    base = tmp_path_factory.getbasetemp()
    try:
        return build(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
    except Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the compatibility tests cannot run: {exc}", pytrace=False)
        pytest.skip(str(exc))

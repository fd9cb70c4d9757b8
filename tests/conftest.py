"""Fixtures for every suite that runs real processes: integration, chaos, fuzz, e2e."""

import aiohttp
import pytest

from tests.integration.harness import Client, ProcessCluster

pytest_plugins = ("tests.compat.report",)  # the rolling upgrade's figures at the end of the run


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """``@pytest.mark.needs(NEED, ...)``: skip (locally) or fail (CI) before any fixture is built."""
    for mark in item.iter_markers("needs"):
        for need in mark.args:
            need.check()


def pytest_terminal_summary(terminalreporter):
    skipped = len(terminalreporter.stats.get("skipped", []))
    if skipped:
        line = f"{skipped} TESTS DID NOT RUN: the short test summary below says why, and how to include them"
        terminalreporter.write_sep("!", line, red=True, bold=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def make_cluster(tmp_path, request):
    """Build real-process clusters; every process is killed at the end, by PID, whatever happened.
    When the test failed, the nodes' logs are printed (a distributed failure is unreadable without)."""
    made: list[ProcessCluster] = []

    def make(size: int, **kwargs) -> ProcessCluster:
        cluster = ProcessCluster(tmp_path / f"cluster{len(made)}", size, **kwargs)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.close()
        if request.node.stash.get(_FAILED, False):
            print(cluster.logs())


@pytest.fixture
async def client():
    async with aiohttp.ClientSession() as session:
        yield Client(session)

import os

import aiohttp
import pytest

from tests.integration.harness import Client, ProcessCluster

from .netns import available

# CHAOS_SEED=N reruns the CI profile with another schedule (a failure prints the seed it used).
SEED = int(os.environ.get("CHAOS_SEED", "1"))

_why_not = available()
needs_netns = pytest.mark.skipif(_why_not is not None, reason=f"needs network namespaces: {_why_not}")
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root); run as root to include it"
)

_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


@pytest.fixture
def make_cluster(tmp_path, request):
    """Real-process clusters on loopback; every process is killed by PID at the end, and the nodes'
    logs are printed when the test failed."""
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

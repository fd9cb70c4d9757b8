"""Disk faults on one node of a real cluster (PITFALLS 12, SPEC §5).

Full disk: the node's data directory is a 4 MiB tmpfs that the test fills while the cluster takes
writes. The node must stay up, refuse the writes it receives with 507 ``storage_unavailable``, keep
serving reads, leave no half record in its log, and catch up once the space is back; a full follower
only lags, and a full leader is replaced, so the cluster keeps taking writes either way.

Damaged snapshot: a stopped follower's newest snapshot is cut to half its size. The node must detect
it, fall back (to the older snapshot, or — when nothing valid joins its log — to an empty log it
refills from its peers, logging "recovering from peers", keeping its term and vote) and converge.
"""

import asyncio
import contextlib
import errno
import itertools
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.harness import Client, NodeProcess, ProcessCluster, wait_for
from tests.needs import ROOT

from .runner import converge

TMPFS_SIZE = "4m"


@contextlib.contextmanager
def small_tmpfs(path: Path):
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        # The tests using this already need root (ROOT): a root that cannot mount a
        # tmpfs is a broken environment, and a silent skip would hide that the test never ran.
        pytest.fail(f"cannot mount a tmpfs as root: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        done = subprocess.run(["umount", str(path)], capture_output=True, text=True)
        if done.returncode != 0:  # something still holds it: detach now, the kernel frees it later
            subprocess.run(["umount", "-l", str(path)], check=True)


def fill(directory: Path) -> Path:
    """Write zeros into ``directory`` until the disk is full; returns the file."""
    path = directory / "fill.bin"
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    with contextlib.suppress(OSError), open(path, "ab", buffering=0) as f:  # the last few bytes too
        while f.write(b"\0" * 512):
            pass
    return path


class Writer:
    """Keyed creates, each with a title of its own, sent round-robin to ``nodes``. A write that is not
    acknowledged is sent again with the same key and title to the next node — the deduplication path —
    until it is, even once stopping: so every task this writer causes is one it knows the id of, and the
    final state can be checked exactly (``acked`` maps each id to its title)."""

    def __init__(self, client: Client, nodes: list[NodeProcess]):
        self.client, self.nodes = client, nodes
        self.acked: dict[str, str] = {}
        self.stopping = asyncio.Event()

    async def run(self, name: str) -> None:
        for n in itertools.count():
            if self.stopping.is_set():
                return
            key, title = str(uuid.uuid4()), f"{name}-{n}"
            for node in itertools.cycle(self.nodes):
                code, body, _ = await self.client.call(
                    "POST", node.url + "/tasks", {"title": title}, headers={"Idempotency-Key": key}, timeout=5
                )
                if code == 201:
                    self.acked[body["id"]] = title
                    break
                await asyncio.sleep(0.05)  # the retry's own pause, not a wait for anything

    async def wait_more(self, n: int, timeout: float, what: str) -> None:
        target = len(self.acked) + n
        await wait_for(lambda: asyncio.sleep(0, len(self.acked) >= target), timeout, what)

    async def finish(self, writing: list[asyncio.Task[None]], timeout: float = 30) -> None:
        """Stop starting writes; wait until each one begun is acknowledged."""
        self.stopping.set()
        await asyncio.wait_for(asyncio.gather(*writing), timeout)

    def assert_exactly(self, tasks: list[dict], where: str) -> None:
        """The tasks are exactly the acknowledged writes: none lost, none twice, none unknown."""
        titles = [t["title"] for t in tasks]
        lost = set(self.acked.values()) - set(titles)
        twice = sorted(title for title in set(titles) if titles.count(title) > 1)
        assert not lost and not twice, (
            f"{where}: {len(lost)} acknowledged writes lost, applied twice: {twice}"
        )
        assert {t["id"]: t["title"] for t in tasks} == self.acked, f"{where}: tasks no write of this run made"


async def _everyone_follows(client: Client, cluster: ProcessCluster, leader: NodeProcess) -> bool:
    statuses = await asyncio.gather(*(client.status(n) for n in cluster.nodes))
    return all(s and s["leader_id"] == leader.id for s in statuses)


@pytest.mark.needs(ROOT)
@pytest.mark.parametrize("role", ["follower", "leader"])
async def test_a_full_disk_refuses_writes_keeps_reads_and_recovers(make_cluster, client, role):
    cluster = make_cluster(4, log_level="info")
    preferred = cluster.nodes[0]
    victim = preferred if role == "leader" else cluster.nodes[2]
    others = [n for n in cluster.nodes if n is not victim]
    with small_tmpfs(cluster.root / f"data{victim.port}") as data_dir:
        try:
            cluster.start_all()
            await wait_for(lambda: _everyone_follows(client, cluster, preferred), 20, "the preferred leader")
            writer = Writer(client, others)
            writing = [asyncio.create_task(writer.run(f"w{i}")) for i in range(3)]
            await writer.wait_more(30, 15, "writes before the disk fills")

            filler = await asyncio.to_thread(fill, data_dir)

            async def storage_error():
                status = await client.status(victim)
                return status and status["storage_error"]

            problem = await wait_for(storage_error, 15, f"{victim.id} to report its full disk")
            assert "No space left" in problem or "ENOSPC" in problem or "space" in problem.lower(), problem

            async def refused():
                code, body, _ = await client.call("POST", victim.url + "/tasks", {"title": "to a full disk"})
                if code == 201:  # written after all: one more task this run made
                    writer.acked[body["id"]] = "to a full disk"
                return (code, body) if code == 507 else None

            code, body = await wait_for(refused, 10, f"{victim.id} to refuse a write with 507")
            assert body["error"] == "storage_unavailable" and body["message"]
            code, tasks, _ = await client.call("GET", victim.url + "/tasks")
            assert code == 200 and len(tasks["tasks"]) >= 30, "a node with a full disk must still serve reads"
            assert victim.running

            # The cluster goes on: a full follower only lags; a full leader is replaced.
            await writer.wait_more(150, 30, f"the cluster to take writes while {victim.id}'s disk is full")
            status = await client.status(victim)
            assert victim.running and status["storage_error"], "the disk is still full"
            commits = [s["commit_index"] for s in await asyncio.gather(*map(client.status, others)) if s]
            assert status["applied_index"] < max(commits), f"{victim.id} kept up without a disk"
            if role == "leader":
                assert not status["is_leader"], "a leader that cannot write its log must be replaced"

            await asyncio.to_thread(filler.unlink)
            await wait_for(lambda: _no_storage_error(client, victim), 15, f"{victim.id} to recover its disk")
            await writer.wait_more(10, 15, "writes after the disk has space again")
            await writer.finish(writing)

            final, problem = await converge(client, cluster, timeout=30)
            assert problem is None, f"{problem}: {[len(t or []) for t in final.values()]}"
            writer.assert_exactly(final[victim.id], "after the disk recovered")

            # Its log holds no half record: it restarts after kill -9 and converges again.
            cluster.kill(victim.index)
            cluster.start(victim.index)
            final, problem = await converge(client, cluster, timeout=30)
            assert problem is None, problem
            writer.assert_exactly(final[victim.id], "after a kill -9 of the recovered node")
            log = victim.log.read_text(errors="replace")
            assert "corrupt" not in log.lower() and "Traceback" not in log
        finally:
            cluster.close()  # before the unmount: nothing may hold the tmpfs


async def _no_storage_error(client: Client, node: NodeProcess) -> bool:
    status = await client.status(node)
    return bool(status) and status["storage_error"] is None


async def _damaged_snapshot_case(
    make_cluster, client, *, damage_all: bool
) -> tuple[ProcessCluster, NodeProcess]:
    cluster = make_cluster(3, storage={"snapshot_every": 50}, log_level="info")
    cluster.start_all()
    preferred = cluster.nodes[0]
    await wait_for(lambda: _everyone_follows(client, cluster, preferred), 20, "the preferred leader")
    follower = cluster.nodes[1]
    writer = Writer(client, [preferred])
    writing = asyncio.create_task(writer.run("s"))
    snapshots = cluster.root / f"data{follower.port}" / "snapshots"

    async def two_snapshots():
        return len(list(snapshots.glob("snap-*.json"))) >= 2

    await wait_for(two_snapshots, 30, f"{follower.id} to keep two snapshots")
    await writer.wait_more(20, 10, "writes after the snapshots")
    status = await client.status(follower)
    term_before = status["term"]
    assert cluster.terminate(follower.index) == 0
    files = sorted(snapshots.glob("snap-*.json"))
    for path in files if damage_all else files[-1:]:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])  # truncated to half
    await writer.wait_more(20, 10, "writes while the follower is down")
    cluster.start(follower.index)
    await writer.wait_more(20, 15, "writes after the follower restarted")
    await writer.finish([writing])
    final, problem = await converge(client, cluster, timeout=30)
    assert follower.running, f"{follower.id} did not start:\n{follower.log.read_text()[-3000:]}"
    assert problem is None, problem
    writer.assert_exactly(final[follower.id], f"{follower.id} after its snapshot was damaged")
    status = await client.status(follower)
    assert status["term"] >= term_before
    return cluster, follower


async def test_a_truncated_newest_snapshot_is_detected_and_the_node_converges(make_cluster, client):
    _cluster, follower = await _damaged_snapshot_case(make_cluster, client, damage_all=False)
    log = follower.log.read_text(errors="replace")
    assert "not a valid snapshot" in log, "the damaged snapshot went unnoticed"


async def test_a_node_with_no_valid_snapshot_recovers_from_its_peers(make_cluster, client):
    _cluster, follower = await _damaged_snapshot_case(make_cluster, client, damage_all=True)
    log = follower.log.read_text(errors="replace")
    assert "recovering from peers" in log

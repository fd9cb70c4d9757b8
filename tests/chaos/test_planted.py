"""The checker catches a real bug in real processes.

The bug is planted in a copy of the product, never in the product: ``src/todonode`` is copied to a
temporary directory, one line of ``node/facade.py`` is changed so that ``propose`` answers as soon as the
leader's core accepts the entry — before any follower has it, before it is committed — and the nodes
run from that copy (``PYTHONPATH``). Then: writes stream to the leader, both followers are killed
(kill -9), the leader goes on acknowledging for a moment, the leader is killed too, the followers come
back and elect a new leader without those entries, and the old leader rejoins and has them cut from
its log. The checker must report the acknowledged writes as lost. The same scenario against the
unchanged product is clean, so it is the bug that the checker sees, not the scenario.
"""

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

import todonode
from tests.integration.harness import Client, ProcessCluster, wait_for

from .checker import check
from .history import Fault, History
from .runner import collect_log_terms, converge, wait_for_leader
from .workload import Workload, WorkloadOptions

ACK_AFTER_COMMIT = "result: Result | None = await Deadline(COMMIT_TIMEOUT_S).run(future)"
ACK_BEFORE_COMMIT = (
    "result = TaskState({}).apply(answer.index, command)  # PLANTED BUG: acknowledged before commit"
)


def planted_copy(tmp_path: Path) -> Path:
    """A copy of the todonode package whose leader acknowledges a write before it is committed."""
    root = tmp_path / "planted"
    shutil.copytree(
        Path(todonode.__file__).parent, root / "todonode", ignore=shutil.ignore_patterns("__pycache__")
    )
    node_py = root / "todonode" / "node" / "facade.py"
    text = node_py.read_text()
    assert text.count(ACK_AFTER_COMMIT) == 1, "facade.py changed: update the line the planted bug replaces"
    node_py.write_text(text.replace(ACK_AFTER_COMMIT, ACK_BEFORE_COMMIT))
    loaded = subprocess.run(
        [sys.executable, "-c", "import todonode.node.facade as n; print(n.__file__)"],
        env={"PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == str(node_py), f"PYTHONPATH does not win over the installed package: {loaded}"
    return root


async def _lose_the_leader_with_followers_down(cluster: ProcessCluster) -> tuple[History, int]:
    """The scenario; returns the history and how many writes were acknowledged while the followers
    were down."""
    history = History(t0=time.monotonic())
    async with aiohttp.ClientSession() as session:
        client = Client(session)
        cluster.start_all()
        leader, followers = cluster.nodes[0], cluster.nodes[1:]

        async def preferred_leads():
            statuses = await asyncio.gather(*(client.status(n) for n in cluster.nodes))
            return all(s and s["leader_id"] == leader.id for s in statuses)

        await wait_for(preferred_leads, 20, "the preferred node to lead")
        options = WorkloadOptions(
            clients=4,
            weights={"create": 1},
            live_per_client=1_000_000,
            think_s=(0.0, 0.002),
            attempt_timeout_s=2,
            op_deadline_s=3,
        )
        workload = Workload(session, {leader.id: leader.url}, history, seed=1, options=options)
        clients = asyncio.create_task(workload.run())

        def acked():
            return sum(1 for op in history.ops if op.acked)

        await wait_for(lambda: asyncio.sleep(0, acked() >= 40), 20, "40 acknowledged writes")
        before = acked()
        alone = Fault("kill-followers", [n.id for n in followers], time.monotonic(), injected=True)
        history.faults.append(alone)
        await asyncio.to_thread(lambda: [cluster.kill(n.index) for n in followers])
        await asyncio.sleep(1.0)  # the fault's own timing: the leader is alone this long
        history.faults.append(Fault("kill-leader", [leader.id], time.monotonic(), injected=True))
        cluster.kill(leader.index)
        workload.stop()
        await clients
        during = acked() - before  # answers already on their way when the leader died count too
        for node in followers:
            cluster.start(node.index)
        await wait_for_leader(client, cluster, timeout=20)
        alone.end = history.faults[-1].end = time.monotonic()
        cluster.start(leader.index)
        history.final, problem = await converge(client, cluster, timeout=30)
        assert problem is None, problem
    collect_log_terms(cluster, history)
    return history, during


async def test_a_leader_that_acknowledges_before_commit_is_caught_losing_writes(make_cluster, tmp_path):
    cluster = make_cluster(3, env={"PYTHONPATH": str(planted_copy(tmp_path))}, log_level="info")
    history, during = await _lose_the_leader_with_followers_down(cluster)
    report = check(history, seed=1, profile="planted: ack before commit")
    print(report.table())
    print(report.failure_text())
    assert during > 0, "the planted leader acknowledged nothing while alone: the bug did not run"
    assert report.count("lost") > 0, (
        f"the checker missed writes acknowledged by a leader that lost them\n{report.table()}"
    )
    lost = [v for v in report.violations if v.rule == "lost"]
    assert all("acknowledged create" in v.message and v.ops for v in lost)
    # What is lost was acknowledged around the time the leader was left alone, never long before.
    alone = history.faults[0].start
    assert all(op.end > alone - 0.5 for v in lost for op in v.ops), report.failure_text()


async def test_the_same_scenario_against_the_real_node_is_clean(make_cluster):
    cluster = make_cluster(3, log_level="info")
    history, _ = await _lose_the_leader_with_followers_down(cluster)
    report = check(history, seed=1, profile="control: the product as it is")
    print(report.table())
    assert report.ok, report.failure_text()
    assert report.figures()["acked_writes"] >= 40

"""One chaos run, start to finish: clients, monitor and nemesis against a real cluster for a while;
then heal everything, wait for the nodes to agree, collect the final state and the nodes' logs, and
hand the history to the checker.

``chaos_cluster`` builds the cluster for a profile — ``netns`` (a namespace per node, real partitions)
or ``loopback`` (the integration harness's processes on 127.0.0.1, process faults only) — and removes
every process, namespace and link it made, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.harness import Client, ProcessCluster, wait_for
from tests.needs import NETNS

from .checker import Report, check
from .history import OK, UNKNOWN, History, terms_from_log
from .nemesis import Nemesis, NemesisOptions
from .netns import NetnsCluster, Network
from .workload import Monitor, Workload, WorkloadOptions

PROFILES = ("netns", "loopback")


@dataclass
class ChaosOptions:
    seed: int
    duration_s: float
    profile: str = "loopback"  # for the report; the cluster comes from chaos_cluster
    kinds: tuple[str, ...] | None = None  # default: every kind the profile allows
    workload: WorkloadOptions = field(default_factory=WorkloadOptions)
    nemesis: NemesisOptions = field(default_factory=NemesisOptions)
    converge_s: float = 45.0  # after the heal, how long the nodes get to agree
    # True: the fault phase goes on past duration_s until every kind has struck at least once, for at
    # most three times duration_s in all (then the report shows which kinds never struck)
    every_kind: bool = False
    artifacts: Path | None = None  # where to write history.jsonl and report.txt


def resolve_profile(profile: str) -> str:
    if profile == "auto":
        return "netns" if NETNS.missing is None else "loopback"
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use netns, loopback or auto")
    return profile


@contextlib.contextmanager
def chaos_cluster(
    profile: str, root: Path, size: int = 4, **cluster_args: Any
) -> Iterator[tuple[ProcessCluster, Network | None]]:
    """A cluster for ``profile`` (not started). On exit every node is killed by PID, then every
    namespace, veth and bridge of the run is removed; leftovers are an error."""
    network: Network | None = None
    cluster: ProcessCluster | None = None
    cluster_args.setdefault("log_level", "info")
    failed = True
    try:
        if profile == "netns":
            network = Network(size).create()
            cluster = NetnsCluster(root, network, **cluster_args)
        else:
            cluster = ProcessCluster(root, size, **cluster_args)
        yield cluster, network
        failed = False
    finally:
        if cluster is not None:
            cluster.close()
        if network is not None:
            problems = network.close() + [f"left behind: {name}" for name in network.leftovers()]
            if problems and not failed:
                raise AssertionError("network teardown incomplete: " + "; ".join(problems))


async def wait_for_leader(client: Client, cluster: ProcessCluster, timeout: float = 20) -> str:
    """The id of the leader every running node agrees on."""

    async def probe() -> str | None:
        running = [n for n in cluster.nodes if n.running]
        statuses = await asyncio.gather(*(client.status(n) for n in running))
        if not statuses or any(s is None for s in statuses):
            return None
        leaders = {s.get("leader_id") for s in statuses}
        if len(leaders) == 1 and None not in leaders:
            return leaders.pop()
        return None

    return await wait_for(probe, timeout, "every node to agree on a leader", interval=0.1)


async def converge(
    client: Client, cluster: ProcessCluster, timeout: float
) -> tuple[dict[str, list[dict[str, Any]] | None], str | None]:
    """Wait until every node agrees on the leader, has applied everything the leader committed and
    returns the same task list. Returns each node's list and, if they never agreed, why not."""
    last: dict[str, list[dict[str, Any]] | None] = {}

    async def probe() -> bool:
        statuses = await asyncio.gather(*(client.status(n) for n in cluster.nodes))
        if any(s is None for s in statuses):
            return False
        leaders = {s["leader_id"] for s in statuses}
        if len(leaders) != 1 or None in leaders:
            return False
        leader = next(s for s in statuses if s["node_id"] in leaders)
        if leader["commit_index"] != leader["last_index"]:
            return False
        if any(s["applied_index"] != leader["commit_index"] for s in statuses):
            return False
        lists = await asyncio.gather(*(client.tasks(n) for n in cluster.nodes))
        last.clear()
        last.update({n.id: tasks for n, tasks in zip(cluster.nodes, lists, strict=True)})
        return all(tasks is not None and tasks == lists[0] for tasks in lists)

    try:
        await wait_for(probe, timeout, "every node to hold the same state", interval=0.2)
        return dict(last), None
    except AssertionError as exc:
        lists = await asyncio.gather(*(client.tasks(n) for n in cluster.nodes))
        return {n.id: tasks for n, tasks in zip(cluster.nodes, lists, strict=True)}, str(exc)


def collect_log_terms(cluster: ProcessCluster, history: History) -> None:
    for node in cluster.nodes:
        if node.log.exists():
            history.terms += terms_from_log(node.id, node.log.read_text(errors="replace"))


async def run_chaos(
    cluster: ProcessCluster,
    network: Network | None,
    options: ChaosOptions,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Start the cluster, run the fault phase for ``options.duration_s``, heal, check."""
    history = History(t0=time.monotonic())
    urls = {node.id: node.url for node in cluster.nodes}
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        client = Client(session)
        cluster.start_all()
        await wait_for_leader(client, cluster, timeout=30)
        monitor = Monitor(session, urls, history)
        workload = Workload(session, urls, history, options.seed, options.workload)
        nemesis = Nemesis(cluster, network, monitor, history, options.seed, options.kinds, options.nemesis)
        monitoring = asyncio.create_task(monitor.run())
        clients = asyncio.create_task(workload.run())
        faults = asyncio.create_task(nemesis.run())
        started = time.monotonic()
        try:
            while (elapsed := time.monotonic() - started) < options.duration_s or (
                options.every_kind and not nemesis.injected_every_kind() and elapsed < 3 * options.duration_s
            ):
                if progress is not None:
                    progress(_progress_line(elapsed, options.duration_s, history, workload, nemesis, monitor))
                for task in (clients, faults, monitoring):
                    if task.done():
                        task.result()  # a crash in the test machinery stops the run at once
                await asyncio.sleep(min(1.0, max(0.1, options.duration_s - elapsed)))
        finally:
            nemesis.stop()
            workload.stop()
            await asyncio.gather(faults, return_exceptions=True)  # heals everything on the way out
            await asyncio.gather(clients, return_exceptions=True)
        faults.result()
        clients.result()
        if progress is not None:
            progress("healed; waiting for every node to agree")
        history.final, history.not_converged = await converge(client, cluster, options.converge_s)
        monitor.stop()
        await monitoring
    collect_log_terms(cluster, history)
    report = check(history, seed=options.seed, profile=options.profile, duration_s=options.duration_s)
    if options.artifacts is not None:
        options.artifacts.mkdir(parents=True, exist_ok=True)
        history.dump(options.artifacts / "history.jsonl")
        (options.artifacts / "report.txt").write_text(report.table() + "\n" + report.failure_text() + "\n")
    return report


def _progress_line(
    elapsed: float, total: float, history: History, workload: Workload, nemesis: Nemesis, monitor: Monitor
) -> str:
    ops = history.ops
    acked = sum(1 for op in ops if op.is_write and op.outcome == OK)
    unknown = sum(1 for op in ops if op.is_write and op.outcome == UNKNOWN and op.end is not None)
    fault = nemesis.current
    now = f"{fault.kind} {','.join(fault.targets)}" if fault else "quiet"
    leader = monitor.leader()
    term = monitor.latest[leader].term if leader and monitor.latest.get(leader) else "-"
    return (
        f"{elapsed:5.0f}/{total:.0f} s | ops {len(ops)} | acked writes {acked} | unknown {unknown} | "
        f"faults {sum(nemesis.counts.values())} | now: {now} | leader {leader or '-'} term {term}"
    )

"""Membership with real processes: what the tests of test_membership.py and
scripts/measure_membership.py both ask of a cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from todonode.api.models import MAX_PAGE

from ..compat.writers import Writers
from .harness import DEADLINE_S, DEFAULT_TIMINGS, SECRET, Client, NodeProcess, ProcessCluster, wait_for

ADMIN = {"Authorization": f"Bearer {SECRET}"}
PAGE = MAX_PAGE
# One election: a timeout, and the heartbeats that carry the votes (as tests/compat measures it).
ONE_ELECTION_S = (
    2 * DEFAULT_TIMINGS["election_timeout_ms"] / 1000 + 2 * DEFAULT_TIMINGS["heartbeat_ms"] / 1000
)
HEALING = {"auto_remove_after_s": 2, "min_voters": 2, "auto_rejoin": True}


async def members(client: Client, node: NodeProcess) -> dict[str, Any] | None:
    code, body, _ = await client.call("GET", node.url + "/cluster/members", headers=ADMIN, timeout=2)
    return body if code == 200 and body["view"] == "leader" else None


async def role_of(client: Client, via: NodeProcess, member: str) -> str | None:
    listed = await members(client, via)
    row = next((m for m in listed["members"] if m["id"] == member), None) if listed else None
    return row["role"] if row else None


async def until_each_counts_voters(client: Client, nodes: list[NodeProcess], voters: int) -> None:
    """Wait until every one of ``nodes`` has ``voters`` voters in its configuration. A leader lists a
    new voter as soon as the change is in its own log: killed before the others hold the change, it
    takes the only copy with it, and those left may rightly have no majority."""
    for node in nodes:

        async def counts(node: NodeProcess = node) -> bool:
            status = await client.status(node)
            return bool(status and status["quorum"]["voters"] == voters)

        await wait_for(counts, DEADLINE_S, f"{node.id} to count {voters} voters")


async def leader_of(client: Client, nodes: list[NodeProcess]) -> NodeProcess:
    async def probe() -> NodeProcess | None:
        for node in nodes:
            status = await client.status(node)
            if status and status["is_leader"]:
                return node
        return None

    return await wait_for(probe, DEADLINE_S, "a leader")


async def members_can_change(client: Client, node: NodeProcess) -> None:
    """Wait until ``node`` knows the cluster id: the cluster is at the version that changes members."""

    async def known() -> bool:
        status = await client.status(node)
        return bool(status and status.get("cluster_id"))

    await wait_for(known, DEADLINE_S, f"{node.id} to know the cluster id")


async def change_members(
    client: Client, via: NodeProcess, method: str, path: str, body: Any = None
) -> dict[str, Any]:
    """A membership change through ``via``, asked again while the answer says to retry: a change in
    flight, or a cluster just started that has not moved to the version that changes members yet."""

    async def attempt() -> dict[str, Any] | None:
        code, answer, _ = await client.call(method, via.url + path, body, headers=ADMIN, timeout=15)
        if code in (200, 201):
            return answer
        later = ("change_in_flight", "cluster_version_too_old")
        assert code in (0, 409, 503) and (code != 409 or answer["error"] in later), answer
        return None

    return await wait_for(attempt, DEADLINE_S, f"{method} {path} to be made", interval=0.2)


async def all_tasks(client: Client, node: NodeProcess) -> list[dict[str, Any]] | None:
    """Every task ``node`` holds, page by page."""
    tasks: list[dict[str, Any]] = []
    cursor = ""
    while True:
        url = f"{node.url}/tasks?consistency=strong&limit={PAGE}{cursor}"
        code, body, _ = await client.call("GET", url, timeout=10)
        if code != 200:
            return None
        tasks += body["tasks"]
        if not body.get("next_cursor"):
            return tasks
        cursor = f"&cursor={body['next_cursor']}"


async def same_tasks_everywhere(client: Client, nodes: list[NodeProcess]) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        lists = [await all_tasks(client, node) for node in nodes]
        if any(tasks is None for tasks in lists):
            return None
        return lists[0] if all(tasks == lists[0] for tasks in lists) else None

    return await wait_for(probe, DEADLINE_S, "every member to hold the same tasks")


async def voters_of(client: Client, nodes: list[NodeProcess]) -> list[str] | None:
    leader = await leader_of(client, nodes)
    listed = await members(client, leader)
    return sorted(m["id"] for m in listed["members"] if m["role"] == "voter") if listed else None


async def lose_two_and_grow_back(
    client: Client,
    cluster: ProcessCluster,
    lost: tuple[NodeProcess, NodeProcess],
    writers: Writers,
    note: Callable[[str], None],
) -> None:
    """The sequential-loss scenario on four voters with ``HEALING``: kill one node, wait until the
    leader has removed it, kill the other, wait again, restart both and wait until they are voters
    again (under new ids). ``writers`` are told which nodes to write to; ``note`` is told each step."""

    async def voters_are(count: int) -> bool:
        found = await voters_of(client, [n for n in cluster.nodes if n.running])
        return found is not None and len(found) == count

    for node, count in zip(lost, (3, 2), strict=True):
        cluster.kill(node.index)
        writers.urls.remove(node.url)
        note(f"{node.id} killed")
        await wait_for(lambda c=count: voters_are(c), DEADLINE_S, f"{count} voters")
        note(f"{node.id} removed by the leader: {count} voters")
    for node in lost:
        cluster.start(node.index)
        note(f"{node.id} restarted (auto_rejoin)")
    await wait_for(lambda: voters_are(4), 2 * DEADLINE_S, "four voters again")
    note(f"four voters again: {', '.join(await voters_of(client, cluster.nodes) or [])}")
    writers.urls.extend(node.url for node in lost)

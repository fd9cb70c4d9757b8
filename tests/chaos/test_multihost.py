"""A cluster spread over four "hosts" (SPEC §8): one network namespace per node, each with its own
address and all on the same port, joined by veth links to a bridge. Partitions are made by taking
links down, so they are as real as a pulled cable. An isolated node is still reachable from inside
its own namespace, which is where the test asks it for writes.
"""

import asyncio
import itertools
import json
import sys
import uuid
from collections import Counter

import pytest

from tests.integration.harness import Client, NodeProcess, ProcessCluster, wait_for
from tests.needs import NETNS

from .netns import PORT, Network
from .runner import chaos_cluster, converge

# A one-shot HTTP client to run inside a namespace (no proxy: the address is local to the namespace).
_PROBE = """
import json, sys, urllib.error, urllib.request
method, url, body = sys.argv[1:4]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
request = urllib.request.Request(url, data=body.encode() or None, method=method,
                                 headers={"Content-Type": "application/json"})
try:
    with opener.open(request, timeout=10) as r:
        print(json.dumps({"status": r.status, "body": json.loads(r.read() or b"null")}))
except urllib.error.HTTPError as e:
    print(json.dumps({"status": e.code, "body": json.loads(e.read() or b"null")}))
except OSError as e:
    print(json.dumps({"status": 0, "body": {"client_error": repr(e)}}))
"""


async def _from_inside(network: Network, node: NodeProcess, method: str, path: str, body=None):
    """A request to ``node`` sent from inside its own namespace."""
    proc = await asyncio.create_subprocess_exec(
        "ip",
        "netns",
        "exec",
        network.namespaces[node.index],
        sys.executable,
        "-c",
        _PROBE,
        method,
        node.url + path,
        json.dumps(body) if body is not None else "",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    answer = json.loads(out)
    return answer["status"], answer["body"]


async def _leader_of(client: Client, nodes: list[NodeProcess]) -> str | None:
    statuses = await asyncio.gather(*(client.status(n) for n in nodes))
    leaders = {s["leader_id"] if s else None for s in statuses}
    return leaders.pop() if len(leaders) == 1 and None not in leaders else None


class Writes:
    """Every write the test sends, each with a title of its own, and what became of it: acknowledged
    (id -> title), or of unknown outcome (it may land later). A refusal sent before anything was proposed
    (no_quorum, no_leader) leaves nothing behind. The final state is checked against all three."""

    def __init__(self, client: Client):
        self.client = client
        self.acked: dict[str, str] = {}
        self.unknown: set[str] = set()
        self._sent = itertools.count()

    def title(self, what: str) -> str:
        return f"{what} #{next(self._sent)}"

    def record(self, title: str, code: int, body) -> None:
        if code == 201:
            self.acked[body["id"]] = title
        elif not (code == 503 and body.get("error") in ("no_quorum", "no_leader")):
            self.unknown.add(title)

    async def send(self, node: NodeProcess, what: str):
        title = self.title(what)
        answer = await self.client.call(
            "POST",
            node.url + "/tasks",
            {"title": title},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            timeout=10,
        )
        self.record(title, answer[0], answer[1])
        return answer

    async def acked_write(self, node: NodeProcess, what: str) -> str:
        code, body, _ = await self.send(node, what)
        assert code == 201, (node.id, code, body)
        return body["id"]

    def assert_final(self, tasks: list[dict]) -> None:
        """Each acknowledged write once; nothing else but writes whose outcome was unknown."""
        titles = Counter(t["title"] for t in tasks)
        assert all(n == 1 for n in titles.values()), (
            f"applied twice: {[t for t, n in titles.items() if n > 1]}"
        )
        by_id = {t["id"]: t["title"] for t in tasks}
        lost = {task: title for task, title in self.acked.items() if by_id.get(task) != title}
        assert not lost, f"acknowledged writes lost: {lost}"
        extra = {title for task, title in by_id.items() if task not in self.acked}
        assert extra <= self.unknown, f"tasks no write of this test explains: {extra - self.unknown}"


@pytest.mark.needs(NETNS)
async def test_a_cluster_across_namespaces_takes_writes_refuses_a_minority_and_heals(tmp_path, client):
    with chaos_cluster("netns", tmp_path / "cluster", 4, log_level="info") as (cluster, network):
        assert isinstance(cluster, ProcessCluster) and network is not None
        cluster.start_all()
        nodes = cluster.nodes
        preferred = nodes[0]  # every port is the same: the first member is preferred
        assert len({n.port for n in nodes}) == 1 and nodes[0].port == PORT
        assert len({n.url for n in nodes}) == 4
        await wait_for(
            lambda: _preferred_leads(client, nodes, preferred), 30, "the first member to lead everyone"
        )
        status = await client.status(nodes[2])
        assert status["node_id"] == f"{network.addresses[2]}:{PORT}"  # ids are host:port

        writes = Writes(client)
        for node in nodes:
            await writes.acked_write(node, f"before-{node.index}")

        # 1. The leader's link goes down: the three others elect a leader and keep taking writes.
        network.isolate(preferred.index)
        rest = nodes[1:]

        async def another_leader():
            leader = await _leader_of(client, rest)
            return leader if leader != preferred.id else None

        await wait_for(another_leader, 15, "a leader among the other three")
        for node in rest:
            await writes.acked_write(node, f"during-{node.index}")
        #    The isolated node, asked from inside its namespace, refuses writes and still reads. Each
        #    peer counts as reachable until it has been silent for a while, so the count it gives
        #    comes down to itself alone only once the last peer's silence is long enough.
        code, body = await wait_for(
            lambda: _refused_inside(network, preferred, writes, "1 of 4 nodes reachable; 3 needed"),
            20,
            "the isolated node to answer no_quorum, reaching only itself",
        )
        code, body = await _from_inside(network, preferred, "GET", "/tasks")
        assert code == 200 and len(body["tasks"]) >= 4

        # 2. A second link goes down: two of four left, no majority anywhere; the cluster is read-only.
        network.isolate(nodes[1].index)

        async def refused_everywhere():
            answers = [await writes.send(node, "no majority") for node in nodes[2:]]
            assert not any(a[0] == 201 for a in answers), "a write was acknowledged without a majority"
            refused = all(
                a[0] == 503
                and a[1]["error"] == "no_quorum"
                and "2 of 4 nodes reachable; 3 needed" in a[1]["message"]
                for a in answers
            )
            return answers if refused else None

        answers = await wait_for(
            refused_everywhere, 20, "both remaining nodes to answer no_quorum, 2 of 4 up"
        )
        assert all("Retry-After" in a[2] for a in answers)
        code, body, _ = await client.call("GET", nodes[3].url + "/tasks")
        assert code == 200 and set(writes.acked) <= {t["id"] for t in body["tasks"]}

        # 3. Heal: every node converges on the same tasks, the first member leads again, writes work.
        network.heal()
        final, problem = await converge(client, cluster, timeout=30)
        assert problem is None, problem
        writes.assert_final(next(iter(final.values())))
        await wait_for(
            lambda: _preferred_leads(client, nodes, preferred), 20, "the first member to lead again"
        )
        await writes.acked_write(nodes[3], "after the heal")
        final, problem = await converge(client, cluster, timeout=15)
        assert problem is None, problem
        writes.assert_final(final[preferred.id])


async def _preferred_leads(client: Client, nodes: list[NodeProcess], preferred: NodeProcess) -> bool:
    return await _leader_of(client, nodes) == preferred.id


async def _refused_inside(network: Network, node: NodeProcess, writes: Writes, says: str):
    title = writes.title("from the minority")
    code, body = await _from_inside(network, node, "POST", "/tasks", {"title": title})
    writes.record(title, code, body)
    assert code != 201, "a node cut off from the majority acknowledged a write"
    refused = code == 503 and body.get("error") == "no_quorum" and says in body["message"]
    return (code, body) if refused else None

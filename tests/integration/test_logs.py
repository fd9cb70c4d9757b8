"""What a node's log says, read from real processes: one line per event worth knowing (elections with
their term and votes, peers coming and going), as text or as JSON lines, and never a request body or the
cluster secret, whatever a client sends."""

from __future__ import annotations

import asyncio
import json
import socket

from .harness import DEADLINE_S, SECRET, Client, NodeProcess, ProcessCluster, find_leader, wait_for

TITLE = "a title that must stay out of the logs 7f3a"


class JsonLogCluster(ProcessCluster):
    def command(self, node: NodeProcess) -> list[str]:
        return [*super().command(node), "--log-format", "json"]


def raw_request(url: str, data: bytes) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        sock.recv(4096)


async def test_json_lines_one_event_each_and_no_body_or_secret(tmp_path, client: Client):
    # Debug level: the most the node ever says.
    cluster = JsonLogCluster(tmp_path / "json", 3, log_level="debug")
    try:
        cluster.start_all()
        # The first leader elected may hand over to the lowest port once it is caught up: wait for that one.
        leader = cluster.nodes[0]
        follower = cluster.nodes[1]
        await wait_for(
            lambda: _all_follow(client, cluster, leader), DEADLINE_S, "every node to follow the lowest port"
        )
        # Writes through a follower (forwarded), bad bodies, a wrong token, and requests aiohttp cannot
        # even parse, all carrying the title or the secret.
        for node in (leader, follower):
            code, body, _ = await client.call("POST", f"{node.url}/tasks", {"title": TITLE})
            assert code == 201, body
            await client.call("POST", f"{node.url}/tasks", {"title": TITLE + "\n" + SECRET})
            await client.call("POST", f"{node.url}/tasks/batch", {"tasks": [{"title": SECRET}] * 2000})
            await client.call("POST", f"{node.url}/internal/raft", {"messages": [SECRET]})
            await client.call(
                "POST", f"{node.url}/internal/raft", {"messages": [{"x": TITLE}]}, {"Authorization": SECRET}
            )
            bad_header = f"GET /tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SECRET}\x00\r\n\r\n"
            await asyncio.to_thread(raw_request, node.url, bad_header.encode())
            bad_body = f"POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n{TITLE}"
            await asyncio.to_thread(raw_request, node.url, bad_body.encode())
        # A planned stop and a peer going away: logged events of their own.
        assert cluster.terminate(follower.index) == 0
        await wait_for(lambda: _logged(leader, f"peer {follower.id} is unreachable"), 10, "peer down")
    finally:
        cluster.close()

    for node in cluster.nodes:
        text = node.log.read_text()
        assert SECRET not in text and TITLE not in text, node.id
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        assert all({"ts", "level", "node", "logger", "msg"} <= line.keys() for line in lines)
        assert all(line["node"] == node.id for line in lines)
        messages = [line["msg"] for line in lines]
        assert any(m.startswith("role ") and (": election" in m or ": new leader" in m) for m in messages)
    leader_lines = [json.loads(line)["msg"] for line in leader.log.read_text().splitlines()]
    won = [m for m in leader_lines if "election won with" in m]
    assert won and won[-1].startswith("role leader, term ")
    assert any(m.startswith("refused a malformed HTTP request from") for m in leader_lines)


async def test_text_logs_tell_of_elections_started_won_and_lost(make_cluster, client: Client):
    cluster = make_cluster(3, log_level="info")
    cluster.start_all()
    leader = await find_leader(client, cluster)
    cluster.kill(leader.index)
    await find_leader(client, cluster)
    text = "\n".join(node.log.read_text() for node in cluster.nodes)
    assert " INFO " in text and "{" not in text.split("\n")[0]  # text, not JSON
    assert "election started" in text
    assert "election won with 2 of 3 votes" in text or "election won with 3 of 3 votes" in text


async def _all_follow(client: Client, cluster: ProcessCluster, leader: NodeProcess) -> bool:
    statuses = await asyncio.gather(*(client.status(node) for node in cluster.nodes))
    return all(status is not None and status["leader"] == leader.url for status in statuses)


def _logged(node: NodeProcess, needle: str):
    async def probe() -> bool:
        return needle in node.log.read_text()

    return probe()

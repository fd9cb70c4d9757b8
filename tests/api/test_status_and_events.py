"""/status, /health, /ready, /heartbeat, /cluster/status and the /events stream on a one-node cluster."""

import asyncio

import orjson

from todonode import events as events_module
from todonode.api.keys import NODE

from .conftest import SECRET, wait_until

JSON = {"Content-Type": "application/json"}


async def test_status_reports_the_original_fields_and_the_raft_ones(client, node):
    resp = await client.get("/status")
    body = await resp.json()
    assert resp.status == 200
    for field in (
        "leader",
        "is_leader",
        "port",
        "last_heartbeat",
        "node_id",
        "role",
        "term",
        "commit_index",
        "applied_index",
    ):
        assert field in body
    assert body["is_leader"] is True and body["role"] == "leader" and body["leader"] == node.members[node.id]


async def test_health_and_heartbeat_answer_liveness(client, node):
    health = await (await client.get("/health")).json()
    assert health == {"status": "ok", "port": node.config.node.port, "is_leader": True}
    beat = await (await client.get("/heartbeat")).json()
    assert beat["is_leader"] is True and beat["term"] >= 1


async def test_ready_once_a_leader_is_known_and_everything_committed_is_applied(client, node):
    resp = await client.get("/ready")
    assert resp.status == 200 and (await resp.json())["ready"] is True


async def test_ready_is_503_while_no_leader_is_known(client, node):
    node.core.leader = None  # as it is during an election
    try:
        resp = await client.get("/ready")
        body = await resp.json()
        assert resp.status == 503 and "no leader known" in body["problems"]
    finally:
        node.core.leader = node.id


async def test_cluster_status_lists_every_node_with_replication_facts(client, node):
    body = await (await client.get("/cluster/status")).json()
    assert body["leader"] == node.members[node.id] and body["is_leader"] is True
    assert body["current_node"] == node.members[node.id]
    (row,) = body["nodes"]
    assert row["role"] == "leader" and row["reachable"] is True and row["lag"] == 0
    for field in ("id", "url", "match_index", "last_contact_ms"):
        assert field in row


async def _read_events(resp, count: int) -> list[tuple[str, dict, str | None]]:
    """The next ``count`` events of an SSE stream as (event, data, id)."""
    events: list[tuple[str, dict, str | None]] = []
    kind, ident = None, None
    while len(events) < count:
        line = (await asyncio.wait_for(resp.content.readline(), 5)).decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("id: "):
            ident = line[4:]
        elif line.startswith("data: "):
            events.append((kind, orjson.loads(line[6:]), ident))
            kind, ident = None, None
    return events


async def test_events_stream_task_changes_with_the_log_index_as_id(client, node):
    resp = await client.get("/events")
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    (hello,) = await _read_events(resp, 1)
    assert hello[0] == "cluster" and hello[1]["type"] == "hello"
    created = await (await client.post("/tasks", data=b'{"title": "watch me"}', headers=JSON)).json()
    (event,) = await _read_events(resp, 1)
    assert event[0] == "task" and event[1]["type"] == "created" and event[1]["id"] == created["id"]
    assert event[2] == str(event[1]["index"])
    resp.close()


async def test_events_resume_after_last_event_id(client, node):
    ids = []
    for title in ("one", "two", "three"):
        ids.append(
            (await (await client.post("/tasks", data=orjson.dumps({"title": title}), headers=JSON)).json())[
                "id"
            ]
        )
    first_index = node.applied - 2
    resp = await client.get("/events", headers={"Last-Event-ID": str(first_index)})
    events = await _read_events(resp, 3)
    assert [e[1]["id"] for e in events[1:]] == ids[1:]  # after the hello: exactly what came later
    resp.close()


async def test_events_send_reset_when_history_cannot_reach_back(client, node):
    node.events.complete_after = node.applied  # as after a restart: older events were never seen here
    resp = await client.get("/events", headers={"Last-Event-ID": "0"})
    events = await _read_events(resp, 2)
    assert events[1][0] == "reset"
    resp.close()


async def test_replicate_and_internal_rpc_need_the_cluster_secret(client, node):
    for path in ("/replicate", "/internal/raft"):
        resp = await client.post(path, data=b'{"messages": []}', headers=JSON)
        assert resp.status == 401 and (await resp.json())["error"] == "unauthorized"
        resp = await client.post(
            path, data=b'{"messages": []}', headers={"Authorization": f"Bearer {SECRET}"}
        )
        assert resp.status == 204
        resp = await client.post(path, data=b"[1,2", headers={"Authorization": f"Bearer {SECRET}"})
        assert resp.status == 400


async def test_an_overloaded_node_answers_503_with_retry_after(client, node, monkeypatch):
    monkeypatch.setattr("todonode.node.facade.MAX_PENDING_WRITES", 0)
    resp = await client.post("/tasks", data=b'{"title": "one too many"}', headers=JSON)
    body = await resp.json()
    assert resp.status == 503 and body["error"] == "overloaded"
    assert "Retry-After" in resp.headers
    assert node.state.counts()["total"] == 0


async def test_each_event_is_encoded_once_for_every_stream(client, node, monkeypatch):
    encoded: list[object] = []  # task changes turned into JSON (orjson serves the whole node)
    real = events_module.orjson.dumps

    def counting(value, *args):
        if isinstance(value, dict) and value.get("type") == "created" and "index" in value:
            encoded.append(value)
        return real(value, *args)

    monkeypatch.setattr(events_module.orjson, "dumps", counting)
    streams = [await client.get("/events") for _ in range(5)]
    for resp in streams:
        await _read_events(resp, 1)  # the hello
    await client.post("/tasks", json={"title": "seen five times"})
    for resp in streams:
        (event,) = await _read_events(resp, 1)
        assert event[1]["task"]["title"] == "seen five times"
        resp.close()
    assert len(encoded) == 1, "one encoding of the task event, for all five streams"


async def test_a_stream_beyond_max_event_streams_is_503_with_retry_after(make_client):
    async with make_client(api={"max_event_streams": 2}) as client:
        first, second = await client.get("/events"), await client.get("/events")
        assert (first.status, second.status) == (200, 200)
        refused = await client.get("/events")
        body = await refused.json()
        assert (
            refused.status == 503 and body["error"] == "overloaded" and "max_event_streams" in body["message"]
        )
        assert int(refused.headers["Retry-After"]) >= 1
        first.close()
        node = client.app[NODE]
        await wait_until(lambda: node.events.subscribers < 2, "the closed stream to be let go")
        assert (await client.get("/events")).status == 200

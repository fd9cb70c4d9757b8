"""GET /openapi.json (generated from the types that validate requests), GET /metrics, the client token on
every write and on reads of task data, and POST /cluster/transfer-leader on a one-node cluster."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest

from todonode.api import models, openapi, routes
from todonode.api.keys import CONFIG

from .conftest import SECRET

JSON = {"Content-Type": "application/json"}
# Served by the app but deliberately not described: peer RPC, for cluster members only.
UNDESCRIBED = {
    ("POST", "/internal/raft"),
    ("GET", "/internal/raft/stream"),
    ("POST", "/replicate"),
}


async def schema_of(client) -> dict[str, Any]:
    resp = await client.get("/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    return await resp.json()


# ============================================================================================ openapi


async def test_the_schema_is_openapi_3_1_and_describes_every_public_route(client):
    doc = await schema_of(client)
    assert doc["openapi"].startswith("3.1")
    described = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    served = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    assert served - UNDESCRIBED == described


async def test_the_schema_states_this_nodes_own_limits(make_client):
    async with make_client(api={"max_title_chars": 7, "max_batch": 3}) as client:
        doc = await schema_of(client)
    schemas = doc["components"]["schemas"]
    assert "{0,5}" in schemas["TaskCreate"]["properties"]["title"]["pattern"]  # 7 = first + 5 + last
    assert schemas["TaskBatch"]["properties"]["tasks"]["maxItems"] == 3


async def test_the_request_schema_is_the_validator(client):
    """The body schema published for POST /tasks is the one the handler converts with."""
    doc = await schema_of(client)
    published = doc["paths"]["/tasks"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    types = models.request_types(500, 1000)
    (generated,), _ = msgspec.json.schema_components([types.TaskCreate], ref_template=openapi._REF)
    assert published == generated


async def test_writes_ask_for_a_token_in_the_schema_only_when_the_node_has_one(make_client):
    async with make_client() as client:
        assert "security" not in (await schema_of(client))["paths"]["/tasks"]["post"]
    async with make_client(api={"token": "t0ken", "protect_reads": True}) as client:
        doc = await schema_of(client)
    assert doc["paths"]["/tasks"]["post"]["security"] == [{"bearer": []}]
    assert doc["paths"]["/tasks"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in doc["paths"]["/status"]["get"]


async def test_live_responses_are_instances_of_the_response_types(client):
    created = await (await client.post("/tasks", json={"title": "Buy milk"})).json()
    for path, kind in [
        ("/tasks", models.TaskList),
        (f"/tasks/{created['id']}", models.Task),
        ("/status", models.Status),
        ("/health", models.Health),
        ("/ready", models.Ready),
        ("/heartbeat", models.Heartbeat),
        ("/cluster/status", models.ClusterStatus),
    ]:
        msgspec.convert(await (await client.get(path)).json(), kind)
    error = await (await client.post("/tasks", json={"title": ""})).json()
    msgspec.convert(error, models.Error)


# ============================================================================================ metrics


def samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


async def test_metrics_are_prometheus_text_with_the_raft_and_http_facts(client, node):
    await client.post("/tasks", json={"title": "a"}, headers={"Idempotency-Key": "k1"})
    await client.post("/tasks", json={"title": "a"}, headers={"Idempotency-Key": "k1"})  # a replay
    await client.get("/no-such-page")
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    values = samples(await resp.text())
    assert values['todonode_role{role="leader"}'] == 1 and values["todonode_is_leader"] == 1
    assert values["todonode_term"] == node.core.term
    assert values["todonode_applied_index"] == node.applied
    assert values["todonode_commit_index"] == node.core.commit
    assert values["todonode_leader_changes_total"] >= 1
    assert values["todonode_idempotent_replays_total"] == 1
    assert values['todonode_write_seconds_count{served="leader"}'] == 1
    assert values["todonode_wal_fsync_seconds_count"] >= 1
    assert values['todonode_http_requests_total{method="POST",route="/tasks",status="201"}'] == 2
    assert values['todonode_http_requests_total{method="GET",route="unmatched",status="404"}'] == 1
    assert values['todonode_tasks{state="active"}'] == 1


async def test_each_node_has_its_own_registry(make_client):
    async with make_client() as first, make_client() as second:
        await first.post("/tasks", json={"title": "only on the first"})
        one = samples(await (await first.get("/metrics")).text())
        two = samples(await (await second.get("/metrics")).text())
    assert one['todonode_tasks{state="active"}'] == 1 and two['todonode_tasks{state="active"}'] == 0


async def test_metrics_can_be_turned_off(make_client):
    async with make_client(api={"metrics": False}) as client:
        assert (await client.get("/metrics")).status == 404
        assert (await client.post("/tasks", json={"title": "still works"})).status == 201


# ================================================================================ access control


WRITES = [
    ("POST", "/tasks", {"title": "x"}),
    ("POST", "/tasks/batch", {"tasks": [{"title": "x"}]}),
    ("PATCH", "/tasks", {"completed": True}),
    ("DELETE", "/tasks?completed=true", None),
    ("PATCH", "/tasks/some-id", {"completed": True}),
    ("PUT", "/tasks/some-id", {"completed": True}),
    ("DELETE", "/tasks/some-id", None),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_every_write_needs_the_client_token_when_there_is_one(make_client, method, path, body):
    async with make_client(api={"token": "t0ken"}) as client:
        resp = await client.request(method, path, json=body)
        assert resp.status == 401 and (await resp.json())["error"] == "unauthorized"
        resp = await client.request(method, path, json=body, headers={"Authorization": "Bearer t0ken"})
        assert resp.status != 401
        assert (await client.get("/tasks")).status == 200  # reads stay open without protect_reads


@pytest.mark.parametrize("path", ["/tasks", "/tasks/some-id", "/events"])
async def test_protect_reads_covers_every_read_of_task_data(make_client, path):
    async with make_client(api={"token": "t0ken", "protect_reads": True}) as client:
        assert (await client.get(path)).status == 401
        for open_path in ("/status", "/health", "/ready", "/metrics", "/openapi.json", "/cluster/status"):
            assert (await client.get(open_path)).status == 200, open_path


# ============================================================================== transfer-leader


async def test_transfer_leader_needs_the_secret_and_names_a_member(client, node):
    resp = await client.post("/cluster/transfer-leader", json={"node": node.id})
    assert resp.status == 401
    auth = {"Authorization": f"Bearer {SECRET}"}
    resp = await client.post("/cluster/transfer-leader", json={"node": "node1"}, headers=auth)
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"
    resp = await client.post("/cluster/transfer-leader", json={"node": 5}, headers=auth)
    assert resp.status == 400 and (await resp.json())["field"] == "node"
    resp = await client.post("/cluster/transfer-leader", json={"node": node.id}, headers=auth)
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "already_leader" and body["leader"] == node.id
    msgspec.convert(body, models.TransferStarted)


async def test_every_405_lists_exactly_the_methods_its_path_serves(client):
    served: dict[str, set[str]] = {}
    config = client.app[CONFIG]
    for route in (route for route in routes.ROUTES if route.enabled(config)):
        path = re.sub(r"\{id[^}]*\}", "some-task-id", route.path).replace("{path:.+}", "js/main.js")
        served.setdefault(path, set()).add(route.method.upper())
    for path, methods in served.items():
        allowed = methods | ({"HEAD"} if "GET" in methods else set())
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - methods:
            resp = await client.request(method, path, headers={"Authorization": f"Bearer {SECRET}"})
            assert resp.status == 405, (method, path, resp.status)
            assert set(resp.headers["Allow"].split(",")) == allowed, (method, path, resp.headers["Allow"])

"""``/cluster/members`` on a one-node cluster: listing, adding a learner, removing it, and every refusal
saying why. (Real clusters of several processes: tests/integration/test_membership.py.)"""

from __future__ import annotations

from todonode.cluster_state import IDENTITY_VERSION

from ..integration.harness import free_ports
from .conftest import wait_until
from .test_peer_streams import AUTH


async def _until_members_can_change(node) -> None:
    await wait_until(lambda: node._applied.cluster.version >= IDENTITY_VERSION, "the cluster runs version 2")


async def test_members_are_for_administrators_only(client):
    for method, path in (
        ("get", "/cluster/members"),
        ("post", "/cluster/members"),
        ("delete", "/cluster/members/x"),
    ):
        resp = await client.request(method, path, json={})
        assert resp.status == 401, (method, path)


async def test_a_new_cluster_lists_itself_as_its_one_voter(client, node):
    await wait_until(lambda: node.cluster_id is not None, "the cluster has an id")
    body = await (await client.get("/cluster/members", headers=AUTH)).json()
    assert body["cluster_id"] == node.cluster_id and body["view"] == "leader"
    assert [(m["id"], m["role"]) for m in body["members"]] == [(node.id, "voter")]
    assert body["retired"] == []


async def test_an_added_learner_is_listed_and_a_removed_one_is_retired_for_good(client, node):
    await _until_members_can_change(node)
    port, _ = free_ports(2)
    url = f"http://127.0.0.1:{port}"
    resp = await client.post("/cluster/members", json={"url": url, "learner": True}, headers=AUTH)
    added = await resp.json()
    assert resp.status == 201, added
    assert (added["id"], added["role"], added["members"][added["id"]]) == (f"node{port}", "learner", url)
    listed = await (await client.get("/cluster/members", headers=AUTH)).json()
    learner = next(m for m in listed["members"] if m["id"] == added["id"])
    assert (learner["role"], learner["kept_learner"], learner["url"]) == ("learner", True, url)

    # Asked again before anything of it arrived (its node starting with cluster.join): the same member.
    resp = await client.post("/cluster/members", json={"url": url}, headers=AUTH)
    assert resp.status == 201 and (await resp.json())["id"] == added["id"]
    resp = await client.post("/cluster/members", json={"url": url, "id": "other"}, headers=AUTH)
    assert resp.status == 409 and (await resp.json())["error"] == "url_in_use"

    resp = await client.delete(f"/cluster/members/{added['id']}", headers=AUTH)
    assert resp.status == 200 and (await resp.json()) == {"id": added["id"], "removed": True}
    listed = await (await client.get("/cluster/members", headers=AUTH)).json()
    assert listed["retired"] == [added["id"]] and len(listed["members"]) == 1

    resp = await client.post("/cluster/members", json={"url": url, "id": added["id"]}, headers=AUTH)
    assert resp.status == 409 and (await resp.json())["error"] == "id_retired"
    again = await (await client.post("/cluster/members", json={"url": url}, headers=AUTH)).json()
    assert again["id"] == f"node{port}.2"  # the same URL later gets an id no member ever had


async def test_every_refusal_says_why(client, node):
    await _until_members_can_change(node)
    resp = await client.delete("/cluster/members/nobody", headers=AUTH)
    assert resp.status == 404 and (await resp.json())["error"] == "not_a_member"
    resp = await client.delete(f"/cluster/members/{node.id}", headers=AUTH)
    assert resp.status == 409 and (await resp.json())["error"] == "last_voter"
    for bad in (
        {"url": "ftp://127.0.0.1:1"},
        {"url": "http://127.0.0.1"},
        {"url": "http://h:1", "id": "a/b"},
    ):
        resp = await client.post("/cluster/members", json=bad, headers=AUTH)
        assert resp.status in (400, 422) and (await resp.json())["error"] == "validation_error", bad


async def test_status_says_what_this_node_is_in_the_cluster(client, node):
    body = await (await client.get("/status")).json()
    assert body["membership"] == "voter" and body["config_disagreement"] is None

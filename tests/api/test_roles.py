"""Roles: the client token reads and writes, the admin token (or the cluster's credentials) also
administers; the client token is refused administration with 403 and a message saying what is needed."""

from __future__ import annotations

import pytest

from todonode.api.routes import ROUTES

from .conftest import SECRET

CLIENT, ADMIN = "the-client-token", "the-admin-token"
ADMIN_ROUTES = [op for op in ROUTES if op.admin]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_transfer_leader_and_the_members_routes_are_admin_routes() -> None:
    assert [(op.method, op.path) for op in ADMIN_ROUTES] == [
        ("post", "/cluster/transfer-leader"),
        ("get", "/cluster/members"),
        ("post", "/cluster/members"),
        ("delete", "/cluster/members/{id}"),
        ("get", "/backup"),
    ]


@pytest.mark.parametrize("op", ADMIN_ROUTES, ids=lambda op: op.operation_id)
async def test_the_client_token_is_refused_administration_with_403(make_client, op) -> None:
    async with make_client(api={"token": CLIENT, "admin_token": ADMIN}) as client:
        path = op.path.replace("{id}", "x")
        resp = await client.request(op.method, path, json={"node": "x"}, headers=bearer(CLIENT))
        body = await resp.json()

    assert resp.status == 403 and body["error"] == "forbidden"
    assert body["message"] == (
        "the client token does not allow cluster administration: it needs the admin token "
        "(api.admin_token) or the cluster's credentials (its secret, or a certificate signed by its CA)"
    )


@pytest.mark.parametrize("token", [None, "wrong", f"{ADMIN}x", ADMIN[:-1]])
async def test_administration_without_a_known_credential_is_401(make_client, token) -> None:
    async with make_client(api={"token": CLIENT, "admin_token": ADMIN}) as client:
        headers = bearer(token) if token else {}
        resp = await client.post("/cluster/transfer-leader", json={"node": "x"}, headers=headers)
        body = await resp.json()

    assert resp.status == 401 and body["error"] == "unauthorized"
    assert "needs the admin token (api.admin_token) or the cluster's credentials" in body["message"]


@pytest.mark.parametrize("token", [ADMIN, SECRET], ids=["admin_token", "cluster_secret"])
async def test_the_admin_token_and_the_cluster_secret_administer(make_client, token) -> None:
    async with make_client(api={"token": CLIENT, "admin_token": ADMIN}) as client:
        node_id = (await (await client.get("/status")).json())["node_id"]
        resp = await client.post("/cluster/transfer-leader", json={"node": node_id}, headers=bearer(token))

        assert resp.status == 200 and (await resp.json())["status"] == "already_leader"


async def test_without_a_client_token_configured_administration_still_needs_credentials(make_client) -> None:
    async with make_client() as client:
        assert (await client.post("/tasks", json={"title": "anyone may write"})).status == 201
        resp = await client.post("/cluster/transfer-leader", json={"node": "x"})

        assert resp.status == 401


async def test_an_administrator_may_do_what_a_client_may(make_client) -> None:
    async with make_client(api={"token": CLIENT, "admin_token": ADMIN, "protect_reads": True}) as client:
        for token in (CLIENT, ADMIN):
            created = await client.post("/tasks", json={"title": token}, headers=bearer(token))
            assert created.status == 201, token
            assert (await client.get("/tasks", headers=bearer(token))).status == 200, token
        assert (await client.get("/tasks")).status == 401

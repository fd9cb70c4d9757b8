"""DNS rebinding and cross-site writes: a node answers only requests whose Host is one of its names,
and takes a write from a browser page only from an origin it trusts; a refused request changes
nothing. (tests/abuse runs the same attack against a real process.)"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from tests.api.conftest import load, write_config
from tests.api.test_tasks import create, error_of, listed
from todonode import certs
from todonode.api.trusted_hosts import REMEMBERED_HOSTS, HostNames, host_of
from todonode.config import TlsSection

EVIL = "rebind.evil.example"


def port_of(client) -> int:
    return client.server.port


async def test_a_rebound_name_can_neither_write_nor_delete_nor_read(client):
    kept = await create(client, "kept")
    headers = {"Host": f"{EVIL}:{port_of(client)}", "Origin": f"http://{EVIL}:{port_of(client)}"}
    resp = await client.post("/tasks", json={"title": "x"}, headers=headers)
    body = await error_of(resp, 403, "host_not_allowed")
    assert EVIL in body["message"] and "api.allowed_hosts" in body["message"]
    await error_of(await client.delete("/tasks?all=true", headers=headers), 403, "host_not_allowed")
    await error_of(await client.get("/tasks", headers=headers), 403, "host_not_allowed")
    preflight = {**headers, "Access-Control-Request-Method": "DELETE"}
    await error_of(await client.options("/tasks", headers=preflight), 403, "host_not_allowed")
    assert [task["id"] for task in await listed(client)] == [kept["id"]]


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "127.8.9.10", "[::1]:{port}", "LOCALHOST."]
)
async def test_loopback_names_are_always_the_nodes_own(client, host):
    resp = await client.get("/health", headers={"Host": host.format(port=port_of(client))})
    assert resp.status == 200


async def test_a_request_without_a_host_is_refused(client):
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(client))
    writer.write(b"GET /health HTTP/1.0\r\n\r\n")
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.0 403") or answer.startswith(b"HTTP/1.1 403"), answer[:80]
    assert b"host_not_allowed" in answer


async def test_allowed_hosts_adds_names_and_star_allows_any(make_client):
    async with make_client(api={"allowed_hosts": ["Todo.LAN", "10.1.2.3"]}) as client:
        for host, status in [
            ("todo.lan", 200),
            ("todo.lan.:80", 200),
            ("10.1.2.3:4000", 200),
            ("other.lan", 403),
        ]:
            assert (await client.get("/health", headers={"Host": host})).status == status, host
    async with make_client(api={"allowed_hosts": ["*"]}) as client:
        assert (await client.get("/health", headers={"Host": EVIL})).status == 200


async def test_a_write_from_a_page_of_another_site_is_refused_whatever_cors_says(client):
    evil = {"Origin": "http://evil.example"}
    await error_of(await client.post("/tasks", json={"title": "x"}, headers=evil), 403, "origin_not_allowed")
    await error_of(await client.delete("/tasks?all=true", headers=evil), 403, "origin_not_allowed")
    await error_of(
        await client.post("/tasks", json={"title": "x"}, headers={"Origin": "null"}),
        403,
        "origin_not_allowed",
    )
    # Reading is what CORS governs: the answer comes, without the header that would let the page see it.
    resp = await client.get("/tasks", headers=evil)
    assert resp.status == 200 and "Access-Control-Allow-Origin" not in resp.headers
    assert await listed(client) == []


async def test_writes_from_the_nodes_own_origins_are_taken(make_client):
    async with make_client(api={"allowed_hosts": ["todo.lan"]}) as client:
        port = port_of(client)
        for origin, host in [
            (f"http://127.0.0.1:{port}", f"127.0.0.1:{port}"),  # a member, in api.cors_origins
            (f"http://localhost:{port}", f"localhost:{port}"),  # the same machine by another name
            (f"http://todo.lan:{port}", f"todo.lan:{port}"),  # the page's own origin
        ]:
            resp = await client.post(
                "/tasks", json={"title": origin}, headers={"Origin": origin, "Host": host}
            )
            assert resp.status == 201, (origin, await resp.text())
        # An allowed name is no licence for another page to write through it.
        resp = await client.post(
            "/tasks", json={"title": "x"}, headers={"Origin": "http://todo.lan:1", "Host": f"todo.lan:{port}"}
        )
        await error_of(resp, 403, "origin_not_allowed")


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("example.com", "example.com"),
        ("Example.COM.:8080", "example.com"),
        ("127.0.0.1:4000", "127.0.0.1"),
        ("[::1]:4000", "::1"),
        ("[::1]", "::1"),
        ("", None),
        ("a b:1", None),
        ("evil.example:4000:1", None),
    ],
)
def test_the_host_part_of_a_host_header(header, host):
    assert host_of(header) == host


def test_the_names_in_the_nodes_own_certificate_are_its_own(tmp_path):
    member = certs.Member("node4000", ("127.0.0.1", "Todo.LAN", "10.1.2.3", "fd00::7"))
    certs.init(tmp_path / "certs", [member])
    plain = load(write_config(tmp_path))
    served = dataclasses.replace(
        plain,
        tls=TlsSection(
            cert_file=tmp_path / "certs" / f"{member.stem}.crt",
            key_file=tmp_path / "certs" / f"{member.stem}.key",
        ),
    )
    for host in ("todo.lan", "10.1.2.3", "[fd00::0:7]:4000"):
        assert not HostNames.of(plain).allow(host_of(host)), host
        assert HostNames.of(served).allow(host_of(host)), host
    assert not HostNames.of(served).allow(host_of(f"{EVIL}:4000"))


def test_a_remembered_verdict_is_the_one_the_check_gives_and_the_memory_stays_small():
    names = HostNames(frozenset({"todo.lan"}), any=False)
    asked = ["todo.lan:4000", f"{EVIL}:4000", "127.0.0.1:4000"] * 2
    asked += [f"n{i}.{EVIL}" for i in range(3 * REMEMBERED_HOSTS)] + ["todo.lan:4000", f"{EVIL}:4000"]
    for header in asked:
        assert names.allow_header(header) == names.allow(host_of(header)), header
        assert len(names._verdicts) <= REMEMBERED_HOSTS

"""The demo's routes: absent outside demo mode, answered only for this machine, and relayed to the demo
supervisor (here a stand-in on a Unix socket that records what it is asked)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from todonode.api import demo

from .conftest import load, serve, wait_until, write_config

STATE = {
    "slow": 1,
    "slow_disk_ms": 200,
    "nodes": [{"id": "n", "url": "u", "process": "running", "isolated": False, "disk_delay_ms": 0, "pid": 1}],
}
JSON = {"Content-Type": "application/json"}


class StandIn:
    """What the supervisor was asked, and its socket."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket
        self.controls: list[tuple[str, str]] = []
        self.reports: list[dict[str, Any]] = []


@pytest.fixture
async def supervisor() -> AsyncIterator[StandIn]:
    with tempfile.TemporaryDirectory(prefix="demo") as short:  # a socket path has at most 107 bytes
        stand_in = StandIn(Path(short) / "s.sock")

        async def state(request: web.Request) -> web.Response:
            return web.json_response(STATE)

        async def control(request: web.Request) -> web.Response:
            stand_in.controls.append((request.match_info["node"], request.match_info["action"]))
            return web.json_response(STATE)

        async def report(request: web.Request) -> web.Response:
            stand_in.reports.append(await request.json())
            return web.Response(status=204)

        async def events(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await response.write(b'event: state\ndata: {"slow": 1}\n\n')
            return response

        app = web.Application()
        app.router.add_get("/state", state)
        app.router.add_post("/nodes/{node}/{action}", control)
        app.router.add_post("/report", report)
        app.router.add_get("/events", events)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.UnixSite(runner, str(stand_in.socket)).start()
        yield stand_in
        await runner.cleanup()


def demo_config(tmp_path: Path, socket: Path, **api: Any) -> Any:
    demo = {"supervisor": str(socket), "report_ms": 20}
    return load(write_config(tmp_path / "node", demo=demo, api=api))


async def test_outside_demo_mode_the_routes_do_not_exist(client: Any) -> None:
    assert (await client.get("/demo")).status == 404
    assert (await client.get("/demo/events")).status == 404
    resp = await client.post("/demo/nodes/node1/stop", json={})
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"
    paths = (await (await client.get("/openapi.json")).json())["paths"]
    assert not [p for p in paths if p.startswith("/demo")]


async def test_the_state_and_the_controls_are_the_supervisors(tmp_path: Path, supervisor: StandIn) -> None:
    config = demo_config(tmp_path, supervisor.socket)
    async with serve(config) as client:
        assert await (await client.get("/demo")).json() == STATE
        me = config.node.id
        resp = await client.post(f"/demo/nodes/{me}/pause", json={})
        assert resp.status == 200 and await resp.json() == STATE
        assert supervisor.controls == [(me, "pause")]
        for path in (f"/demo/nodes/{me}/explode", "/demo/nodes/node1/stop"):  # no such action, no such node
            assert (await client.post(path, json={})).status == 404
        assert supervisor.controls == [(me, "pause")]
        paths = (await (await client.get("/openapi.json")).json())["paths"]
        assert {"/demo", "/demo/nodes/{node}/{action}", "/demo/events"} <= set(paths)


async def test_a_control_must_be_json_from_one_of_the_clusters_origins(
    tmp_path: Path, supervisor: StandIn
) -> None:
    config = demo_config(tmp_path, supervisor.socket)
    async with serve(config) as client:
        path = f"/demo/nodes/{config.node.id}/stop"
        # A form or text/plain needs no CORS preflight: any page could make a browser send one.
        assert (await client.post(path, data="{}", headers={"Content-Type": "text/plain"})).status == 415
        foreign = {**JSON, "Origin": "http://evil.example"}
        refused = await client.post(path, data="{}", headers=foreign)
        assert refused.status == 403 and (await refused.json())["error"] == "origin_not_allowed"
        own = {**JSON, "Origin": config.self_url}
        assert (await client.post(path, data="{}", headers=own)).status == 200
    assert supervisor.controls == [(config.node.id, "stop")]


async def test_a_page_that_rebinds_its_name_to_loopback_finds_nothing(
    tmp_path: Path, supervisor: StandIn
) -> None:
    config = demo_config(tmp_path, supervisor.socket)
    async with serve(config) as client:
        rebound = {**JSON, "Host": f"attacker.example:{config.node.port}"}
        control = f"/demo/nodes/{config.node.id}/stop"
        for refused in (
            await client.get("/demo", headers=rebound),
            await client.post(control, headers=rebound),
        ):
            assert refused.status == 403 and (await refused.json())["error"] == "host_not_allowed"
    assert supervisor.controls == []


async def test_a_name_beyond_loopback_finds_no_demo_routes_even_where_the_node_answers_to_it(
    tmp_path: Path, supervisor: StandIn
) -> None:
    config = demo_config(tmp_path, supervisor.socket, allowed_hosts=["todo.example"])
    async with serve(config) as client:
        named = {**JSON, "Host": f"todo.example:{config.node.port}"}
        assert (await client.get("/health", headers=named)).status == 200
        assert (await client.get("/demo", headers=named)).status == 404
        control = f"/demo/nodes/{config.node.id}/stop"
        assert (await client.post(control, json={}, headers=named)).status == 404
    assert supervisor.controls == []


@pytest.mark.parametrize(("remote", "found"), [("127.0.0.1", True), ("::1", True), ("10.1.2.3", False)])
def test_only_a_client_on_this_machine_is_answered(remote: str, found: bool) -> None:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (remote, 5555) if name == "peername" else default
    )
    request = make_mocked_request("GET", "/demo", headers={"Host": "127.0.0.1:4000"}, transport=transport)
    if found:
        demo._only_from_this_machine(request)
    else:
        with pytest.raises(web.HTTPNotFound):
            demo._only_from_this_machine(request)


async def test_the_event_stream_is_the_supervisors_and_reports_reach_it(
    tmp_path: Path, supervisor: StandIn
) -> None:
    async with serve(demo_config(tmp_path, supervisor.socket)) as client:
        resp = await client.get("/demo/events")
        assert resp.status == 200 and resp.content_type == "text/event-stream"
        assert await resp.text() == 'event: state\ndata: {"slow": 1}\n\n'
        await wait_until(lambda: bool(supervisor.reports), "the node reported to the supervisor")
        assert supervisor.reports[0]["node"] == client.app[demo.CONFIG].node.id


async def test_a_supervisor_that_is_gone_is_said_so(tmp_path: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="demo") as short:
        async with serve(demo_config(tmp_path, Path(short) / "nobody.sock")) as client:
            resp = await client.get("/demo")
            assert resp.status == 503
            assert (await resp.json())["error"] == "demo_unavailable"
            assert (await client.get("/demo/events")).status == 503

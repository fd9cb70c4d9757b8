"""Versions through the HTTP API and the peer streams of a real node: what ``/status`` and
``/cluster/status`` report, the announcement a stream must carry, and the refusal of a peer too old
for the cluster version."""

from __future__ import annotations

import asyncio
import time

import orjson
from aiohttp import web

from todonode.api.headers import PEER_VERSIONS
from todonode.api.keys import NODE
from todonode.cluster_state import set_version_command
from todonode.raft import AppendEntries, Entry, EntryKind, Heartbeat
from todonode.transport import STREAM_PATH
from todonode.versions import CLUSTER_VERSIONS, STORAGE_FORMAT, release, this_node

from .conftest import wait_until
from .test_peer_streams import AUTH, StandInPeer, follower_of_a_silent_peer, frame, transport_to

NEWEST = CLUSTER_VERSIONS.stop - 1


async def test_a_cluster_of_one_new_node_moves_itself_to_the_newest_version(client, node):
    # The version is applied first, then the disk moves to its format (VERSION file, FORMAT record).
    await wait_until(
        lambda: (node.status().versions.cluster_version, node.status().versions.storage_format)
        == (NEWEST, STORAGE_FORMAT),
        "the cluster version and the storage format move",
    )
    body = await (await client.get("/status")).json()
    assert body["version"] == release()
    assert body["cluster_versions"] == [1, NEWEST]
    assert (body["cluster_version"], body["storage_format"]) == (NEWEST, STORAGE_FORMAT)
    version_file = orjson.loads((node.config.node.data_dir / "VERSION").read_bytes())
    assert version_file == {"format": STORAGE_FORMAT, "written_by": release()}
    cluster = await (await client.get("/cluster/status")).json()
    assert cluster["cluster_version"] == NEWEST
    assert [(n["version"], n["cluster_versions"]) for n in cluster["nodes"]] == [(release(), [1, NEWEST])]


class ListeningPeer(StandInPeer):
    """A stand-in peer that also keeps each stream's announcement."""

    def __init__(self) -> None:
        super().__init__()
        self.announced: list[str | None] = []

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        self.announced.append(request.headers.get(PEER_VERSIONS))
        return await super()._stream(request)


async def test_a_node_announces_its_versions_on_every_stream_it_opens():
    peer = ListeningPeer()
    async with transport_to(peer) as transport:
        transport.send([Heartbeat(term=1, src="n1", dst="n2", round=1)])
        await peer.wait_for(1)
    assert peer.announced == [this_node().header()]


async def test_a_malformed_announcement_is_refused(tmp_path):
    async with follower_of_a_silent_peer(tmp_path) as (client, peer):
        resp = await client.get(f"{STREAM_PATH}?from={peer}", headers={**AUTH, PEER_VERSIONS: "soon"})
        body = await resp.json()
        assert resp.status == 400 and body["field"] == PEER_VERSIONS


async def test_after_the_switch_a_peer_that_announces_nothing_is_refused_naming_both_versions(tmp_path):
    async with follower_of_a_silent_peer(tmp_path) as (client, peer):
        node = client.app[NODE]
        # Before the switch a 0.1.0 peer (no announcement) is welcome: it leads this node to version 2.
        ws = await client.ws_connect(f"{STREAM_PATH}?from={peer}", headers=AUTH)
        entries = (
            Entry(4, 1, kind=EntryKind.NOOP),
            Entry(4, 2, data=orjson.dumps(set_version_command(2))),
        )
        await ws.send_bytes(frame(AppendEntries(term=4, src=peer, dst=node.id, entries=entries, commit=2)))
        deadline = time.monotonic() + 5
        while node.status().versions.cluster_version != 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert node.status().versions.cluster_version == 2
        # The switch cut off the stream of the old peer it was made through.
        closing = await ws.receive(timeout=5)
        assert closing.type.name in ("CLOSE", "CLOSED")
        resp = await client.get(f"{STREAM_PATH}?from={peer}", headers=AUTH)
        body = await resp.json()
        assert resp.status == 409 and body["error"] == "version_mismatch"
        assert f"{peer} runs todonode 0.1.0" in body["message"] and "at version 2" in body["message"]
        again = await client.ws_connect(
            f"{STREAM_PATH}?from={peer}", headers={**AUTH, PEER_VERSIONS: this_node().header()}
        )
        assert node.status().versions.peers[peer] == this_node()  # an upgraded peer is back in
        await again.close()

"""A node knows which cluster it belongs to, says so in /status, and refuses the streams and snapshots of
another cluster."""

from __future__ import annotations

from todonode.api.headers import PEER_CLUSTER
from todonode.api.keys import NODE
from todonode.raft import ClusterConfig, InstallSnapshot, Snapshot, SnapshotMeta
from todonode.storage import encode_snapshot
from todonode.transport import STREAM_PATH

from .conftest import wait_until
from .test_peer_streams import AUTH, follower_of_a_silent_peer


async def test_a_new_cluster_gets_an_id_that_status_reports(client, node):
    await wait_until(lambda: node.cluster_id is not None, "the cluster has an id")
    status = await (await client.get("/status")).json()
    cluster = await (await client.get("/cluster/status")).json()
    assert status["cluster_id"] == cluster["cluster_id"] == node.cluster_id
    assert len(node.cluster_id) == 32


async def test_a_stream_from_another_cluster_is_refused(tmp_path):
    async with follower_of_a_silent_peer(tmp_path) as (client, peer):
        node = client.app[NODE]
        node._identity._joined = "ours"  # as a node that joined cluster "ours" knows it
        resp = await client.get(f"{STREAM_PATH}?from={peer}", headers={**AUTH, PEER_CLUSTER: "theirs"})
        body = await resp.json()
        assert resp.status == 409 and body["error"] == "cluster_mismatch"
        assert "theirs" in body["message"] and "ours" in body["message"]
        same = await client.ws_connect(f"{STREAM_PATH}?from={peer}", headers={**AUTH, PEER_CLUSTER: "ours"})
        await same.close()


async def test_a_snapshot_from_another_cluster_never_reaches_the_core(tmp_path):
    async with follower_of_a_silent_peer(tmp_path) as (client, peer):
        node = client.app[NODE]
        node._identity._joined = "ours"
        meta = SnapshotMeta(index=50, term=3, config=ClusterConfig((node.id, peer)))
        data = b"".join(encode_snapshot(meta, {"cluster": {"version": 2, "id": "theirs"}}, 2))
        snapshot = InstallSnapshot(term=3, src=peer, dst=node.id, snapshot=Snapshot(meta, data))
        node.receive(peer, [snapshot])
        assert (node.core.term, node.core.log.snapshot_index) == (0, 0)

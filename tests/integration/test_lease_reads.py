"""Lease reads on real processes (``cluster.lease_reads``, raft/lease.py): a leader answers a
linearizable read from its lease while no follower could answer a heartbeat round; without leases the
same read waits for a round that cannot happen.

Whether the lease still holds when the read arrives depends on the leader's ticks keeping up with real
time, so the test runs alone (``make test`` runs the ``alone`` tests one at a time)."""

from __future__ import annotations

import pytest

from .harness import Client, find_leader

# A long election timeout leaves a lease of well over a second: room for a busy test machine.
TIMINGS = {"election_timeout_ms": 2000, "heartbeat_ms": 100, "lease_drift_margin_ms": 200}


@pytest.mark.alone
@pytest.mark.parametrize("lease", [True, False], ids=["lease", "read_index"])
async def test_a_leader_answers_a_linearizable_read_by_lease_while_its_followers_are_stopped(
    make_cluster, client: Client, lease: bool
):
    cluster = make_cluster(3, timings={**TIMINGS, "lease_reads": "true" if lease else "false"})
    cluster.start_all()
    leader = await find_leader(client, cluster)
    code, task, _ = await client.call("POST", leader.url + "/tasks", {"title": "read me"})
    assert code == 201
    followers = [n for n in cluster.nodes if n is not leader]
    for follower in followers:
        cluster.pause(follower.index)
    try:
        code, body, _ = await client.call(
            "GET", f"{leader.url}/tasks/{task['id']}?consistency=strong", timeout=0.8
        )
    finally:
        for follower in followers:
            cluster.resume(follower.index)
    if lease:
        assert code == 200 and body["title"] == "read me"
    else:
        assert code != 200, "with no follower to answer a heartbeat round, a ReadIndex read must wait"

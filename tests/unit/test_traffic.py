"""Demo mode's view of the wire: every message a node sends is counted by peer, kind and fate, and a
node cut off from its peers sends nothing and takes in nothing."""

from __future__ import annotations

import pytest

from todonode.raft import (
    AppendEntries,
    AppendResponse,
    Entry,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    Message,
    ReadIndexRequest,
    SnapshotMeta,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)
from todonode.traffic import DROPPED, LOST, SENT, Traffic, kind_of
from todonode.transport import PeerTransport

MEMBERS = {"n1": "http://127.0.0.1:1", "n2": "http://127.0.0.1:2", "n3": "http://127.0.0.1:3"}


def to(dst: str, message: type[Message] = Heartbeat, **fields: object) -> Message:
    return message(term=1, src="n1", dst=dst, **fields)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (to("n2", AppendEntries, entries=(Entry(1, 1),)), "append"),
        (to("n2", AppendEntries), "append"),
        (to("n2", AppendResponse, success=True), "ack"),
        (to("n2", AppendResponse, success=False), "reject"),
        (to("n2", Heartbeat, round=3), "heartbeat"),
        (to("n2", Heartbeat, round=0), "commit"),
        (to("n2", HeartbeatResponse), "heartbeat_ack"),
        (to("n2", VoteRequest, pre_vote=True), "prevote"),
        (to("n2", VoteRequest), "vote"),
        (to("n2", VoteResponse, granted=True, pre_vote=True), "prevote_granted"),
        (to("n2", VoteResponse, granted=False, pre_vote=True), "prevote_refused"),
        (to("n2", VoteResponse, granted=True), "vote_granted"),
        (to("n2", VoteResponse, granted=False), "vote_refused"),
        (to("n2", InstallSnapshot), "snapshot"),
        (to("n2", TimeoutNow), "timeout_now"),
        (to("n2", ReadIndexRequest, ctx="x"), "read_index"),
    ],
)
def test_each_message_has_the_kind_the_page_draws(message: Message, kind: str) -> None:
    assert kind_of(message) == kind


def test_counts_are_per_peer_kind_and_fate_and_start_again_after_each_report() -> None:
    traffic = Traffic()
    traffic.count(to("n2", AppendEntries, entries=(Entry(1, 1), Entry(1, 2))), SENT)
    traffic.count(to("n2", AppendEntries, entries=(Entry(1, 3),)), SENT)
    traffic.count(to("n3", Heartbeat, round=1), LOST)
    assert traffic.drain() == [
        {"to": "n2", "kind": "append", "fate": SENT, "n": 2, "entries": 3},
        {"to": "n3", "kind": "heartbeat", "fate": LOST, "n": 1, "entries": 0},
    ]
    assert traffic.drain() == []


def transport() -> PeerTransport:
    async def no_snapshot(meta: SnapshotMeta) -> bytes:
        raise AssertionError("no snapshot is sent here")

    t = PeerTransport(
        self_id="n1",
        members=MEMBERS,
        secret="s",
        timeout_s=1,
        probe_interval_s=0.0,
        reachable_window_s=1,
        read_snapshot=no_snapshot,
    )
    t.traffic = Traffic()
    return t


def test_a_cut_off_node_queues_nothing_and_counts_what_it_dropped() -> None:
    t = transport()
    t.send([to("n2"), to("n3")])
    assert [len(t.links[p].queue) for p in ("n2", "n3")] == [1, 1]
    t.cut_off(True)
    assert [len(t.links[p].queue) for p in ("n2", "n3")] == [0, 0]  # what was waiting goes too
    t.send([to("n2")])
    assert len(t.links["n2"].queue) == 0
    t.links["n3"].failing = True
    t.cut_off(False)
    t.send([to("n3")])
    assert t.traffic is not None
    fates = {(row["to"], row["fate"]): row["n"] for row in t.traffic.drain()}
    assert fates == {("n2", SENT): 1, ("n3", SENT): 1, ("n2", DROPPED): 1, ("n3", LOST): 1}


def test_a_cut_off_node_takes_nothing_in_and_sends_no_probes() -> None:
    t = transport()
    assert t.received("n2", [])
    t.cut_off(True)
    assert not t.received("n3", [to("n1")])
    t.poll()
    assert not any(link.ready.is_set() for link in t.links.values())
    t.cut_off(False)
    t.poll()
    assert all(link.ready.is_set() for link in t.links.values())

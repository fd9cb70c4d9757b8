"""The connection budget: per-address and global caps on client connections, room made by closing
the connection idle longest (never a busy one), and a reserve that only peers may keep."""

from __future__ import annotations

from todonode.api.connection_budget import ConnectionBudget, Pool


def budget(max_clients: int = 4, per_address: int = 2, peer_reserve: int = 2) -> ConnectionBudget:
    return ConnectionBudget(max_clients=max_clients, per_address=per_address, peer_reserve=peer_reserve)


def test_an_address_at_its_cap_makes_room_from_its_own_idle_connections_only() -> None:
    b = budget()
    other = b.admit("10.0.0.9").connection
    first, second = (b.admit("10.0.0.1").connection for _ in range(2))
    admission = b.admit("10.0.0.1")
    assert admission.evicted is first and admission.connection is not None
    assert admission.connection.pool is Pool.CLIENT and b.clients == 3
    assert other is not None and other.open and not first.open and second.open


def test_busy_connections_are_never_closed_to_make_room() -> None:
    b = budget(peer_reserve=0)
    held = [b.admit("10.0.0.1").connection for _ in range(2)]
    for connection in held:
        b.start_request(connection)
    refused = b.admit("10.0.0.1")
    assert refused.connection is None and refused.evicted is None
    b.end_request(held[1])  # answered: now it waits for its next request, and may go
    assert b.admit("10.0.0.1").evicted is held[1]


def test_the_global_cap_closes_the_connection_idle_longest_whoever_holds_it() -> None:
    b = budget(max_clients=3, per_address=3)
    a1, b1, a2 = b.admit("a").connection, b.admit("b").connection, b.admit("a").connection
    b.start_request(a1)
    b.end_request(a1)  # a1 was used again: b1 has now waited longest
    assert b.admit("c").evicted is b1
    assert b.admit("c").evicted is a2
    assert b.clients == 3


def test_the_reserve_takes_connections_only_when_clients_fill_the_node() -> None:
    b = budget(max_clients=1, per_address=1, peer_reserve=2)
    client = b.admit("127.0.0.1").connection
    b.start_request(client)
    extra = [b.admit("127.0.0.1").connection for _ in range(3)]
    assert [c.pool if c else None for c in extra] == [Pool.RESERVE, Pool.RESERVE, None]
    b.prove_peer(extra[0])
    b.release(extra[1])  # not a peer after all: turned away
    assert b.admit("127.0.0.1").connection.pool is Pool.RESERVE
    assert b.peers == 2


def test_a_proven_peer_frees_its_client_place() -> None:
    b = budget(max_clients=1, per_address=1, peer_reserve=4)
    peer = b.admit("127.0.0.1").connection
    b.start_request(peer)
    b.prove_peer(peer)
    assert (b.clients, b.peers) == (0, 1) and peer.pool is Pool.PEER
    client = b.admit("127.0.0.1").connection
    assert client.pool is Pool.CLIENT
    b.end_request(peer)
    assert b.admit("127.0.0.1").evicted is client, "a peer's idle connection is not closed for a client"


def test_releasing_twice_counts_once() -> None:
    b = budget()
    connection = b.admit("a").connection
    b.release(connection)
    b.release(connection)
    b.end_request(connection)
    assert (b.clients, b.peers) == (0, 0)
    assert b.admit("a").evicted is None

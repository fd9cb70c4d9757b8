"""How many connections a node keeps open, and for whom: the accounting, without any I/O
(``connections.py`` applies it to the sockets).

Three pools:

* **client**: every connection starts here, at most ``max_clients`` of them and at most
  ``per_address`` from one client address.
* **peer**: a connection that has proven on a peer route that a member opened it (its certificate
  under mutual TLS, else the cluster secret). Peers never count against the client pools: a flood of
  clients must not starve the streams that keep the leader.
* **reserve**: when the client pools are full, a connection may still be taken into a reserve of
  ``peer_reserve`` places, kept for peers: a peer that connects while clients fill the node gets in.
  A connection taken there must prove it is a peer with its first request, or it is turned away.

When a client pool is full, the connection that has waited longest without a request in progress
(an idle keep-alive, or one that has not finished sending its first request) is closed to make room;
only when every connection is busy is the new one refused. A connection busy with a request, an event
stream or a peer stream is never closed to make room.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Pool(Enum):
    CLIENT = "client"
    RESERVE = "reserve"
    PEER = "peer"


@dataclass(eq=False)  # identity semantics: connections are kept in dicts
class Connection:
    address: str
    pool: Pool
    busy: bool = False  # a request (or a stream) is in progress on it
    open: bool = True
    handle: Any = field(default=None, repr=False)  # what connections.py keeps with it


@dataclass(frozen=True, slots=True)
class Admission:
    connection: Connection | None  # None: refused
    evicted: Connection | None = None  # to be closed, to make room for it


class ConnectionBudget:
    def __init__(self, *, max_clients: int, per_address: int, peer_reserve: int) -> None:
        self.max_clients = max_clients
        self.per_address = per_address
        self.peer_reserve = peer_reserve
        self._by_address: Counter[str] = Counter()  # open client connections per address
        self._clients = 0
        self._peers = 0  # in the reserve, or proven peers
        self._idle: dict[Connection, None] = {}  # client connections with no request, longest first

    @property
    def clients(self) -> int:
        return self._clients

    @property
    def peers(self) -> int:
        return self._peers

    def admit(self, address: str) -> Admission:
        """A new connection from ``address``: taken, perhaps by closing an idle one, or refused."""
        evicted = None
        if self._by_address[address] >= self.per_address:
            evicted = self._longest_idle(address)
        elif self._clients >= self.max_clients:
            evicted = self._longest_idle(None)
        if evicted is not None:
            self.release(evicted)
        if self._clients < self.max_clients and self._by_address[address] < self.per_address:
            connection = Connection(address, Pool.CLIENT)
            self._count_client(address, +1)
            self._idle[connection] = None
            return Admission(connection, evicted)
        if self._peers < self.peer_reserve:
            self._peers += 1
            return Admission(Connection(address, Pool.RESERVE), evicted)
        return Admission(None, evicted)

    def release(self, connection: Connection) -> None:
        """``connection`` is closed; releasing it again changes nothing."""
        if not connection.open:
            return
        connection.open = False
        self._idle.pop(connection, None)
        if connection.pool is Pool.CLIENT:
            self._count_client(connection.address, -1)
        else:
            self._peers -= 1

    def start_request(self, connection: Connection) -> None:
        connection.busy = True
        self._idle.pop(connection, None)

    def end_request(self, connection: Connection) -> None:
        """The request is answered: a client connection waits for its next one, last in line."""
        connection.busy = False
        if connection.open and connection.pool is Pool.CLIENT:
            self._idle[connection] = None

    def prove_peer(self, connection: Connection) -> None:
        """``connection`` carries a peer's messages: it leaves the client pools for good."""
        if connection.open and connection.pool is Pool.CLIENT:
            self._count_client(connection.address, -1)
            self._idle.pop(connection, None)
            self._peers += 1
        connection.pool = Pool.PEER

    def _count_client(self, address: str, change: int) -> None:
        self._clients += change
        self._by_address[address] += change
        if not self._by_address[address]:
            del self._by_address[address]

    def _longest_idle(self, address: str | None) -> Connection | None:
        return next((c for c in self._idle if address is None or c.address == address), None)

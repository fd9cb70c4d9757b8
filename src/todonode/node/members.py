"""Who the members are and where to reach them, as the log says.

The configuration in the log is the truth about membership (raft/membership.py); ``[cluster] nodes``
only bootstraps a brand-new cluster. This module keeps the node's address book — member id -> URL for
every voter and learner in effect, this node included — in step with that configuration after every
round of the Ready loop, and the transport's links with it: a peer that joins gets a stream, one that
leaves loses its stream.

Where a URL comes from, first found wins: the configuration entry that added the member (the core
carries ``ClusterConfig.addresses`` for the runtime), the addresses the cluster gave this node when it
joined (its MEMBER file), the config file's ``cluster.nodes``. Members that bootstrapped the cluster
have no address in the log: every one of them lists the others in its file.

When the config file disagrees with the log — it lists a node the log does not have, or misses one it
has — the node says so in ``/status`` (``config_disagreement``) and in its log, and goes on with the
log's members.

New ids (``new_member_id``): a member added without an id gets ``node<port>``, or ``node<port>.<n>``
when that id was ever a member before, so that no id is ever used by two data directories
(cluster_state.py explains why).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from ..errors import MembershipRefused
from ..raft import (
    ALREADY_A_MEMBER,
    ALREADY_A_VOTER,
    CHANGE_IN_FLIGHT,
    LAST_VOTER,
    NOT_A_MEMBER,
    TERM_NOT_COMMITTED,
    TRANSFERRING,
    ClusterConfig,
    RaftNode,
    Refused,
)
from ..transport import PeerTransport

log = logging.getLogger("todonode.node")

DEPARTED_LINGER_S = 3.0


class Members:
    def __init__(
        self,
        core: RaftNode,
        transport: PeerTransport,
        book: dict[str, str],
        file_members: dict[str, str],
        joined_addresses: dict[str, str],
        peer_url: Callable[[str], str],
    ) -> None:
        """``book`` is updated in place, so that whoever holds it sees every change. ``peer_url``: where
        peers reach a member at a URL (config.py: ``node.peer_port``)."""
        self._core = core
        self._transport = transport
        self.book = book
        self._file = file_members
        self._joined = joined_addresses
        self._peer_url = peer_url
        self._followed: ClusterConfig | None = None
        self._departed: dict[str, tuple[str, float]] = {}  # member -> (URL, monotonic time to unlink)
        self._linked: dict[str, str] = {}
        self.disagreement: str | None = None
        self.follow_config()

    def follow_config(self) -> None:
        """After a round of the Ready loop: take up the configuration in effect, if it changed."""
        config = self._core.config
        if config != self._followed:
            self._followed = config
            me = self._core.id
            # No configuration yet: a node joining, which knows the members the cluster told it of.
            wanted = [*config.members] if config.voters else [*(self._joined or self._file)]
            if me not in wanted:
                wanted.append(me)
            known = {m: url for m in wanted if (url := self._address(config, m))}
            now = time.monotonic()
            for gone, url in self.book.items():
                if gone not in known:
                    self._departed[gone] = (url, now + DEPARTED_LINGER_S)
            self.book.clear()
            self.book.update(known)
            self._check_file(config)
        self._link()

    def _link(self) -> None:
        """Give the transport a link to every member, and, for a while, to those that just left: the
        leader still tells a removed member that its removal is committed (raft/core.py)."""
        now = time.monotonic()
        for gone in [m for m, (_, until) in self._departed.items() if until <= now or m in self.book]:
            del self._departed[gone]
        me = self._core.id
        book = {m: url for m, (url, _) in self._departed.items()} | self.book
        peers = {m: self._peer_url(url) for m, url in book.items() if m != me}
        if peers != self._linked:
            self._linked = peers
            self._transport.set_peers(peers)

    def _address(self, config: ClusterConfig, member: str) -> str:
        return config.address_of(member) or self._joined.get(member) or self._file.get(member) or ""

    def _check_file(self, config: ClusterConfig) -> None:
        if not config.voters or self._joined:
            disagreement = None  # a joined node's file names only itself, by design
        else:
            extra = [m for m in self._file if m not in config.members]
            missing = [m for m in config.members if m not in self._file]
            parts = []
            if extra:
                parts.append(f"cluster.nodes lists {', '.join(extra)}, which the log does not have")
            if missing:
                parts.append(f"the log has {', '.join(missing)}, which cluster.nodes does not list")
            disagreement = "; ".join(parts) or None
        if disagreement and disagreement != self.disagreement:
            log.warning("the config file disagrees with the log, which is followed: %s", disagreement)
        self.disagreement = disagreement


def new_member_id(url: str, taken: set[str], member_urls: Iterable[str] = ()) -> str:
    """The id for a new member at ``url``, as config.py names members: ``node<port>``, or
    ``<host>:<port>`` when a member shares its port (members on hosts of their own); with ``.<n>`` for
    the smallest n that makes an id no member ever had (``taken``: current and retired ids)."""
    parts = urlsplit(url)
    shared = any(urlsplit(other).port == parts.port for other in member_urls)
    base = parts.netloc if shared else f"node{parts.port}"
    if base not in taken:
        return base
    n = 2
    while f"{base}.{n}" in taken:
        n += 1
    return f"{base}.{n}"


# The core's reasons for refusing a change: (status, what to tell the administrator, retry after).
_REFUSALS: dict[str, tuple[int, str, float | None]] = {
    CHANGE_IN_FLIGHT: (409, "another membership change is not committed yet; retry once it is", 0.5),
    TERM_NOT_COMMITTED: (503, "the new leader has not committed an entry of its own term yet", 0.5),
    LAST_VOTER: (409, "that is the last voter: a cluster cannot remove its last voter", None),
    NOT_A_MEMBER: (404, "no member has that id (GET /cluster/members lists them)", None),
    ALREADY_A_MEMBER: (409, "a member has that id already", None),
    ALREADY_A_VOTER: (409, "that member is a voter already", None),
    TRANSFERRING: (503, "the leadership is being handed over; retry shortly", 0.5),
}


def membership_refusal(refused: Refused) -> MembershipRefused:
    """The API's error for a change the core refused, with the core's reason as its code."""
    status, message, retry_after = _REFUSALS.get(refused.reason, (503, "no leader to make the change", 0.5))
    code = refused.reason if refused.reason in _REFUSALS else "no_leader"
    return MembershipRefused(code, message, status=status, retry_after=retry_after)

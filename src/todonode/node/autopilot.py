"""What a node does about membership by itself, each through a committed change, never by guessing:

- **Promotion.** The leader promotes a learner to voter once it is reachable, has acknowledged part of
  the log (or a snapshot) and is no more than ``cluster.promote_lag`` entries behind the leader's log
  — unless it was added to stay a learner. So
  a new node becomes a voter only once its vote can no longer stall commits.
- **Self-healing** (``cluster.auto_remove_after_s``, 0 = off). The leader removes a voter it has not
  reached for that long, one at a time (the core allows one change in flight), never leaving fewer
  than ``cluster.min_voters`` voters. Each removal shrinks the majority, so a cluster that loses nodes
  one after another goes on accepting writes as long as a majority of the shrunken configuration is
  left after each loss. The time counts from when this node became leader at the earliest: a new
  leader never removes a node on its predecessor's say.
- **Rejoining** (``cluster.auto_rejoin``). A node that finds itself removed by a committed change
  (an uncommitted one may still be cut from the log, and the node would have left for nothing) asks
  to be added back. Its old id is retired (cluster_state.py), so it comes back as a new learner under
  a new id: it sets its old log aside and starts over from the leader's snapshot (``Node.rejoin``).

It runs every heartbeat interval, on every node; only a leader changes the configuration.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from ..cluster_state import IDENTITY_VERSION
from ..config import ClusterSection
from ..errors import ApiError
from ..raft import ChangeKind, ConfigChange, RaftNode, Role
from ..transport import PeerTransport
from .applied import AppliedState

log = logging.getLogger("todonode.node")


class Autopilot:
    def __init__(
        self,
        core: RaftNode,
        transport: PeerTransport,
        applied: AppliedState,
        settings: ClusterSection,
        *,
        change: Callable[[ConfigChange], Awaitable[None]],
        removed: Callable[[], bool],
        rejoin: Callable[[], Awaitable[None]],
    ) -> None:
        self._core = core
        self._transport = transport
        self._applied = applied
        self._settings = settings
        self._change = change
        self._removed = removed
        self._rejoin = rejoin
        self._down_since: dict[str, float] = {}  # voter -> when this leader last saw it reachable

    async def run(self) -> None:
        interval = self._settings.heartbeat_ms / 1000
        while True:
            await asyncio.sleep(interval)
            if self._removed():
                if self._settings.auto_rejoin:
                    await self._rejoin()
                continue
            change = self.next_change(time.monotonic())
            if change is None:
                continue
            try:
                await self._change(change)
            except ApiError as exc:
                log.info(
                    "could not %s %s: %s", change.kind.value.replace("_", " "), change.member, exc.message
                )

    def next_change(self, now: float) -> ConfigChange | None:
        """The change this leader should make now, if any (one at a time)."""
        core = self._core
        if core.role is not Role.LEADER:
            self._down_since.clear()
            return None
        if self._applied.cluster.version < IDENTITY_VERSION or core.log.config_index > core.commit:
            return None
        return self._promotion() or self._removal(now)

    def _promotion(self) -> ConfigChange | None:
        core, kept = self._core, self._applied.cluster.kept_learners
        matches = {p.node_id: p.match for p in core.status().peers}
        for learner in core.config.learners:
            match = matches.get(learner, 0)
            behind = core.log.last_index - match
            # It must have acknowledged something: in a short log an empty learner is "within the lag".
            caught_up = match > 0 and behind <= self._settings.promote_lag
            if learner not in kept and caught_up and self._transport.is_reachable(learner):
                log.info("%s has caught up (%d entries behind): promoting it to voter", learner, behind)
                return ConfigChange(ChangeKind.PROMOTE, learner)
        return None

    def _removal(self, now: float) -> ConfigChange | None:
        after = self._settings.auto_remove_after_s
        voters = [v for v in self._core.config.voters if v != self._core.id]
        for voter in voters:
            if self._transport.is_reachable(voter):
                self._down_since.pop(voter, None)
            else:
                self._down_since.setdefault(voter, now)
        for gone in [v for v in self._down_since if v not in voters]:
            del self._down_since[gone]
        if not after or len(voters) + 1 <= self._settings.min_voters:
            return None
        longest = min(self._down_since.items(), key=lambda item: item[1], default=None)
        if longest is None or now - longest[1] < after:
            return None
        log.warning(
            "%s has been unreachable for %.0f s: removing it from the cluster", longest[0], now - longest[1]
        )
        return ConfigChange(ChangeKind.REMOVE, longest[0])

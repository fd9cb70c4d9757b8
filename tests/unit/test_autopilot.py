"""What the leader changes by itself: it promotes a learner once caught up (never one kept a learner),
removes a voter unreachable for auto_remove_after_s — one at a time, never below min_voters, counting
from its own leadership — and a follower changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from todonode.cluster_state import ClusterState, keep_learner_command, set_version_command
from todonode.node.autopilot import Autopilot
from todonode.raft import ChangeKind, ClusterConfig, ConfigChange, PeerStatus, Role


@dataclass
class FakeCore:
    config: ClusterConfig
    matches: dict[str, int]
    last_index: int = 100
    role: Role = Role.LEADER
    id: str = "a"
    commit: int = 100
    config_index: int = 1

    @property
    def log(self):
        return SimpleNamespace(last_index=self.last_index, config_index=self.config_index)

    def status(self):
        peers = tuple(
            PeerStatus(p, m, m + 1, "replicate", True, 0, p in self.config.voters)
            for p, m in self.matches.items()
        )
        return SimpleNamespace(peers=peers)


@dataclass
class FakeTransport:
    down: set[str] = field(default_factory=set)

    def is_reachable(self, peer: str) -> bool:
        return peer not in self.down


def settings(**keys):
    base = {
        "heartbeat_ms": 50,
        "promote_lag": 10,
        "auto_remove_after_s": 0,
        "min_voters": 2,
        "auto_rejoin": False,
    }
    return SimpleNamespace(**{**base, **keys})


def pilot(core, transport=None, kept=(), **keys) -> Autopilot:
    state = ClusterState({})
    state.apply(set_version_command(2))
    for member in kept:
        state.apply(keep_learner_command(member))
    applied = SimpleNamespace(cluster=state)

    async def nothing(*_):
        return None

    return Autopilot(
        core,
        transport or FakeTransport(),
        applied,
        settings(**keys),
        change=nothing,
        removed=lambda: False,
        rejoin=nothing,
    )


def test_a_learner_within_the_lag_is_promoted():
    core = FakeCore(ClusterConfig(("a", "b", "c"), ("d",)), {"b": 100, "c": 100, "d": 95})
    assert pilot(core).next_change(0) == ConfigChange(ChangeKind.PROMOTE, "d")


def test_a_learner_that_has_acknowledged_nothing_waits_however_short_the_log():
    core = FakeCore(ClusterConfig(("a", "b", "c"), ("d",)), {"b": 5, "c": 5, "d": 0}, last_index=5, commit=5)
    assert pilot(core).next_change(0) is None


def test_a_learner_further_behind_than_the_lag_waits():
    core = FakeCore(ClusterConfig(("a", "b", "c"), ("d",)), {"b": 100, "c": 100, "d": 50})
    assert pilot(core).next_change(0) is None


def test_a_learner_kept_a_learner_or_unreachable_is_never_promoted():
    core = FakeCore(ClusterConfig(("a", "b", "c"), ("d", "e")), {"b": 100, "c": 100, "d": 100, "e": 100})
    assert pilot(core, FakeTransport({"e"}), kept=["d"]).next_change(0) is None


def test_nothing_changes_while_a_change_is_in_flight_or_on_a_follower():
    config = ClusterConfig(("a", "b", "c"), ("d",))
    assert pilot(FakeCore(config, {"d": 100}, config_index=101)).next_change(0) is None
    assert pilot(FakeCore(config, {"d": 100}, role=Role.FOLLOWER)).next_change(0) is None


@pytest.mark.parametrize("down_for, removed", [(4.9, False), (5.0, True)])
def test_a_voter_unreachable_for_auto_remove_after_s_is_removed(down_for, removed):
    core = FakeCore(ClusterConfig(("a", "b", "c", "d")), {"b": 100, "c": 100, "d": 100})
    autopilot = pilot(core, FakeTransport({"c"}), auto_remove_after_s=5)
    assert autopilot.next_change(10.0) is None  # first seen unreachable now
    expected = ConfigChange(ChangeKind.REMOVE, "c") if removed else None
    assert autopilot.next_change(10.0 + down_for) == expected


def test_the_voter_gone_longest_goes_first_and_never_below_min_voters():
    core = FakeCore(ClusterConfig(("a", "b", "c")), {"b": 100, "c": 100})
    transport = FakeTransport({"c"})
    autopilot = pilot(core, transport, auto_remove_after_s=5, min_voters=2)
    autopilot.next_change(0.0)
    transport.down.add("b")
    autopilot.next_change(1.0)
    assert autopilot.next_change(7.0) == ConfigChange(ChangeKind.REMOVE, "c")
    core.config = ClusterConfig(("a", "b"))
    assert autopilot.next_change(20.0) is None  # two voters left: min_voters


def test_a_new_leader_counts_from_its_own_leadership():
    core = FakeCore(ClusterConfig(("a", "b", "c", "d")), {"b": 100, "c": 100, "d": 100})
    autopilot = pilot(core, FakeTransport({"c"}), auto_remove_after_s=5)
    autopilot.next_change(0.0)
    core.role = Role.FOLLOWER
    autopilot.next_change(3.0)
    core.role = Role.LEADER
    autopilot.next_change(4.0)
    assert autopilot.next_change(8.0) is None  # four seconds of its own, not eight
    assert autopilot.next_change(9.0) == ConfigChange(ChangeKind.REMOVE, "c")


def test_auto_removal_is_off_at_zero():
    core = FakeCore(ClusterConfig(("a", "b", "c", "d")), {"b": 100, "c": 100, "d": 100})
    autopilot = pilot(core, FakeTransport({"c"}), auto_remove_after_s=0)
    autopilot.next_change(0.0)
    assert autopilot.next_change(1e6) is None

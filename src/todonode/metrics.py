"""What a node measures, in Prometheus terms (``GET /metrics``, see ``api/metrics.py``).

Each node has its own ``CollectorRegistry``: never the library's global default, because several nodes
may live in one process (the tests run whole clusters in one). Two kinds of metric:

* Events are counted and timed where they happen, through the runtime's hooks (``NodeObserver``: fsync,
  snapshots, leader changes; the transport's round-trip hook) and the API's (HTTP responses, writes,
  idempotent replays). Each costs a lock and a few arithmetic operations.
* State (role, term, indices, per-peer progress, task counts) is read when Prometheus scrapes, by
  ``NodeCollector``: nothing on the hot path.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .observer import NodeObserver
from .quota import Usage
from .raft import Role

if TYPE_CHECKING:
    from .node import Node

# Seconds. Local fsyncs take 0.1-10 ms (etcd's guidance: p99 under 10 ms); round trips and writes on a
# loaded machine reach tens of milliseconds; snapshots of large lists take seconds.
_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SLOW = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SERVED = {False: "leader", True: "forwarded"}
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics(NodeObserver):
    """One node's metrics. ``attach`` hooks it to the node's runtime and transport."""

    def __init__(self, node: Node) -> None:
        self.registry = registry = CollectorRegistry()
        self.leader_changes = Counter(
            "todonode_leader_changes", "Times this node saw the leader change (or vanish)", registry=registry
        )
        self.fsync_seconds = Histogram(
            "todonode_wal_fsync_seconds", "Write-ahead log fsync latency", buckets=_FAST, registry=registry
        )
        self.snapshots = Counter("todonode_snapshots", "Snapshots saved", registry=registry)
        self.snapshot_seconds = Histogram(
            "todonode_snapshot_seconds", "Time to save a snapshot", buckets=_SLOW, registry=registry
        )
        self.snapshot_bytes = Counter(
            "todonode_snapshot_bytes", "Bytes of snapshots saved", registry=registry
        )
        self.replication_rtt_seconds = Histogram(
            "todonode_replication_rtt_seconds",
            "From sending entries to a peer until it acknowledges them, its fsync included",
            ["peer"],
            buckets=_FAST,
            registry=registry,
        )
        self.write_seconds = Histogram(
            "todonode_write_seconds",
            "Writes from request to applied result: served here (as leader) or forwarded to the leader",
            ["served"],
            buckets=_FAST,
            registry=registry,
        )
        self.http_requests = Counter(
            "todonode_http_requests",
            "HTTP responses by route (the path template), method and status",
            ["route", "method", "status"],
            registry=registry,
        )
        self.idempotent_replays = Counter(
            "todonode_idempotent_replays",
            "Writes answered with the stored response of an earlier request with the same key",
            registry=registry,
        )
        registry.register(NodeCollector(node))
        if node.config.backup.enabled:
            self._backup_metrics(registry)
        self._node = node
        # Labelled children, looked up once: .labels() costs more than the observation itself.
        self._writes = {forwarded: self.write_seconds.labels(label) for forwarded, label in _SERVED.items()}
        self._rtt: dict[str, Any] = {}
        self._responses: dict[tuple[str, str, int], Any] = {}

    def _backup_metrics(self, registry: CollectorRegistry) -> None:
        """Scheduled backups (scheduled_backups.py), on a node that takes them when it leads."""
        self.last_backup_at: float | None = None  # wall time of the last good one, if any
        self.backups = Counter(
            "todonode_backups", "Scheduled backups written and verified", registry=registry
        )
        self.backup_failures = Counter(
            "todonode_backup_failures",
            "Scheduled backups that failed (logged; retried next interval)",
            registry=registry,
        )
        self.backup_seconds = Histogram(
            "todonode_backup_seconds",
            "Time to write and verify a scheduled backup",
            buckets=_SLOW,
            registry=registry,
        )
        age = Gauge(
            "todonode_backup_age_seconds",
            "Since the last good scheduled backup in backup.dir (+Inf: none yet). Only the leader takes "
            "them: watch the smallest over the cluster's nodes",
            registry=registry,
        )
        age.set_function(
            lambda: math.inf if self.last_backup_at is None else time.time() - self.last_backup_at
        )

    def attach(self) -> None:
        self._node.observe(self)

    # -- NodeObserver

    def fsync(self, seconds: float) -> None:
        self.fsync_seconds.observe(seconds)

    def snapshot(self, seconds: float, size: int) -> None:
        self.snapshots.inc()
        self.snapshot_bytes.inc(size)
        self.snapshot_seconds.observe(seconds)

    def leader_changed(self, leader: str | None, term: int) -> None:
        self.leader_changes.inc()

    def backup_taken(self, size: int, seconds: float) -> None:
        self.backups.inc()
        self.backup_seconds.observe(seconds)

    def backup_good(self, at: float) -> None:
        self.last_backup_at = at

    def backup_failed(self) -> None:
        self.backup_failures.inc()

    def replication_rtt(self, peer: str, seconds: float) -> None:
        child = self._rtt.get(peer)
        if child is None:
            child = self._rtt[peer] = self.replication_rtt_seconds.labels(peer)
        child.observe(seconds)

    # -- the API

    def http_response(self, route: str, method: str, status: int) -> None:
        key = (route, method if method in _METHODS else "other", status)  # a fuzzer must not grow the labels
        child = self._responses.get(key)
        if child is None:
            child = self._responses[key] = self.http_requests.labels(key[0], key[1], str(status))
        child.inc()

    def write(self, seconds: float, *, forwarded: bool) -> None:
        self._writes[forwarded].observe(seconds)


class NodeCollector(Collector):
    """The node's state at scrape time."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def collect(self) -> Iterator[Metric]:
        if not self._node.started:
            return
        status = self._node.status()
        info = GaugeMetricFamily("todonode_node_info", "This node", labels=["node_id", "url"])
        info.add_metric([status.id, status.url], 1)
        yield info
        role = GaugeMetricFamily("todonode_role", "1 for this node's current role", labels=["role"])
        for candidate in Role:
            role.add_metric([candidate.value], 1 if status.role is candidate else 0)
        yield role
        for name, help_text, value in (
            ("todonode_is_leader", "1 while this node leads", int(status.is_leader)),
            ("todonode_term", "Current Raft term", status.term),
            ("todonode_commit_index", "Highest log index known committed", status.commit_index),
            ("todonode_applied_index", "Highest log index applied here", status.applied_index),
            ("todonode_last_index", "Last index in this node's log", status.last_index),
            (
                "todonode_quorum_needed",
                "Voters that must be reachable to accept writes",
                status.quorum.needed,
            ),
            (
                "todonode_quorum_reachable",
                "Voters this node reaches, itself included",
                status.quorum.reachable,
            ),
        ):
            yield GaugeMetricFamily(name, help_text, value=value)
        match = GaugeMetricFamily(
            "todonode_peer_match_index",
            "Highest index known replicated on the peer (leader only)",
            labels=["peer"],
        )
        lag = GaugeMetricFamily(
            "todonode_peer_lag_entries", "Entries the peer is behind this leader's log", labels=["peer"]
        )
        reachable = GaugeMetricFamily(
            "todonode_peer_reachable", "1 while the peer answers this node", labels=["peer"]
        )
        for peer in status.peers:
            behind = status.lag(peer)
            if peer.match_index is not None and behind is not None:
                match.add_metric([peer.id], peer.match_index)
                lag.add_metric([peer.id], behind)
            reachable.add_metric([peer.id], int(peer.reachable))
        yield match
        yield lag
        yield reachable
        tasks = GaugeMetricFamily("todonode_tasks", "Tasks in this node's applied state", labels=["state"])
        counts = self._node.state.counts()
        tasks.add_metric(["active"], counts["active"])
        tasks.add_metric(["completed"], counts["completed"])
        yield tasks
        yield from _quota_metrics(Usage.of(self._node.state, self._node.config.storage))


def _quota_metrics(usage: Usage) -> Iterator[Metric]:
    """How full the list is against storage.max_tasks and max_bytes, and the alarm when one is full."""
    yield GaugeMetricFamily(
        "todonode_state_bytes", "Tasks and idempotency records, as a snapshot holds them", value=usage.bytes
    )
    yield GaugeMetricFamily(
        "todonode_idempotency_bytes",
        "The idempotency table, as a snapshot holds it",
        value=usage.idempotency_bytes,
    )
    limit = GaugeMetricFamily("todonode_quota_limit", "storage.max_tasks and max_bytes", labels=["quota"])
    alarm = GaugeMetricFamily(
        "todonode_quota_alarm",
        "1 while the quota leaves no room: writes that add are refused",
        labels=["quota"],
    )
    for quota, full in usage.full().items():
        limit.add_metric([quota], usage.max_tasks if quota == "tasks" else usage.max_bytes)
        alarm.add_metric([quota], int(full))
    yield limit
    yield alarm

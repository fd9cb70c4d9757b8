"""Where the cluster stands: ``/status``, ``/health``, ``/ready``, ``/heartbeat`` and
``/cluster/status``; and one administrative action, ``POST /cluster/transfer-leader``.

Every answer is drawn from the node's status snapshot (``Node.status()``), so they all agree. Only the
leader knows how far each follower has replicated, so a follower answers ``/cluster/status`` by asking
the leader (briefly) and falls back to its own partial view — which it says it is — when the leader
cannot be reached. Likewise only the leader can hand its leadership over: a follower forwards
``transfer-leader`` to it, as it forwards writes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from ..config import Config
from ..errors import ApiError, NoLeader, NotFound
from ..node import NodeStatus, PeerStatus
from . import models
from .access import require_admin
from .body import read_json
from .errors import json_response
from .forwarding import FORWARDER, NotApplied, OutcomeUnknown, forwarded
from .keys import CONFIG, NODE

LEADER_QUERY_TIMEOUT_S = 0.3
TRANSFER_SLACK_S = 2.0  # on top of the leader's own wait for the hand-over


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def quorum_body(status: NodeStatus) -> dict[str, int]:
    q = status.quorum
    return {"voters": q.voters, "needed": q.needed, "reachable": q.reachable}


def status_body(status: NodeStatus, port: int) -> dict[str, Any]:
    """``GET /status``: this node."""
    return {
        "node_id": status.id,
        "url": status.url,
        "port": port,
        "role": status.role.value,
        "is_leader": status.is_leader,
        "leader": status.leader_url,
        "leader_id": status.leader_id,
        "term": status.term,
        "commit_index": status.commit_index,
        "applied_index": status.applied_index,
        "last_index": status.last_index,
        "last_heartbeat": _iso(status.last_leader_contact),
        "reachable_peers": sum(p.reachable for p in status.peers),
        "quorum": quorum_body(status),
        "storage_error": status.storage_error,
        "demo": status.demo,
        **versions_body(status),
    }


def versions_body(status: NodeStatus) -> dict[str, Any]:
    """This node's part of ``/status`` about versions (docs/api.md#versions)."""
    v = status.versions
    return {
        "version": v.release,
        "cluster_versions": list(v.runs),
        "cluster_version": v.cluster_version,
        "storage_format": v.storage_format,
    }


def _announced(peer: PeerStatus) -> dict[str, Any]:
    """What a peer's stream announced; nulls while no stream from it is open."""
    a = peer.announced
    return {"version": a.release if a else None, "cluster_versions": [a.low, a.high] if a else None}


def cluster_body(status: NodeStatus) -> dict[str, Any]:
    """``GET /cluster/status`` as this node sees the cluster: complete on the leader, partial elsewhere."""
    rows: list[dict[str, Any]] = [
        {
            "id": status.id,
            "url": status.url,
            "role": status.role.value,
            "reachable": True,
            "match_index": status.last_index,
            "lag": 0,
            "last_contact_ms": 0,
            "version": status.versions.release,
            "cluster_versions": list(status.versions.runs),
        }
    ]
    for peer in status.peers:
        role = "leader" if peer.id == status.leader_id else ("follower" if peer.reachable else "down")
        rows.append(
            {
                "id": peer.id,
                "url": peer.url,
                "role": role,
                "reachable": peer.reachable,
                "match_index": peer.match_index,
                "lag": status.lag(peer),
                "last_contact_ms": peer.last_contact_ms,
                **_announced(peer),
            }
        )
    rows.sort(key=lambda row: status.members.index(row["id"]))
    return {
        "leader": status.leader_url,
        "leader_id": status.leader_id,
        "followers": [r["url"] for r in rows if r["role"] != "leader" and r["reachable"]],
        "term": status.term,
        "commit_index": status.commit_index,
        "quorum": quorum_body(status),
        "cluster_version": status.versions.cluster_version,
        "nodes": rows,
        "view": "leader" if status.is_leader else "partial",
    }


async def status(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    body = status_body(request.app[NODE].status(), config.node.port)
    body["warnings"] = security_warnings(config)
    return json_response(body)


def security_warnings(config: Config) -> list[str]:
    """What an operator must know about how exposed this node is (node.insecure_plaintext)."""
    if not config.plaintext_beyond_loopback:
        return []
    return [
        f"node.insecure_plaintext: this node serves plain HTTP on {config.node.host}, beyond loopback; "
        "anyone on that network can read its tasks and its peers' traffic"
    ]


async def health(request: web.Request) -> web.Response:
    node = request.app[NODE]
    return json_response({"status": "ok", "port": node.config.node.port, "is_leader": node.is_leader})


async def heartbeat(request: web.Request) -> web.Response:
    s = request.app[NODE].status()
    return json_response(
        {"status": "alive", "node_id": s.id, "is_leader": s.is_leader, "leader": s.leader_url, "term": s.term}
    )


async def ready(request: web.Request) -> web.Response:
    """200 once this node knows a leader and has applied everything it knows to be committed."""
    s = request.app[NODE].status()
    problems = []
    if s.leader_id is None:
        problems.append("no leader known")
    if s.applied_index < s.commit_index:
        problems.append(f"applied {s.applied_index} of {s.commit_index} committed entries")
    if s.storage_error:
        problems.append(f"storage: {s.storage_error}")
    body: dict[str, Any] = {
        "ready": not problems,
        "node_id": s.id,
        "leader": s.leader_url,
        "problems": problems,
    }
    if not problems:
        return json_response(body)
    # An error like any other, plus the fields above.
    body.update(error="not_ready", message="this node is not ready: " + "; ".join(problems))
    return json_response(body, 503, {"Retry-After": "1"})


async def cluster_status(request: web.Request) -> web.Response:
    s = request.app[NODE].status()
    body = cluster_body(s)
    if not s.is_leader and s.leader_url and "local" not in request.query:
        body = await _ask_leader(request, s.leader_url) or body
    body.update(current_node=s.url, current_node_id=s.id, is_leader=s.is_leader)
    for row in body["nodes"]:
        if row["id"] == s.id:
            row["applied_index"] = s.applied_index
    return json_response(body)


async def _ask_leader(request: web.Request, leader_url: str) -> dict[str, Any] | None:
    """The leader's own view; it is public, so the question carries no credentials."""
    try:
        async with request.app[FORWARDER].session.get(
            f"{leader_url}/cluster/status?local=1",
            timeout=aiohttp.ClientTimeout(total=LEADER_QUERY_TIMEOUT_S),
        ) as resp:
            if resp.status == 200:
                answer: dict[str, Any] = await resp.json()
                return answer
    except (aiohttp.ClientError, TimeoutError, ValueError):
        pass
    return None


class TransferFailed(ApiError):
    status, code = 409, "transfer_failed"


async def transfer_leader(request: web.Request) -> web.Response:
    """``{"node": id}``: make that member the leader. Needs an administrator (api/access.py)."""
    require_admin(request)
    node = request.app[NODE]
    api = request.app[CONFIG].api
    body = await read_json(request, api)
    target = models.request_types(api.max_title_chars, api.max_batch).transfer_target(body.value)
    if target not in node.members:
        known = ", ".join(node.members)
        raise NotFound(f"no member {target!r} in this cluster; its members are {known}", node=target)
    if not node.is_leader:
        return await _forward_to_leader(request, body.raw)
    was = node.id
    leader = await node.transfer_leadership(target)
    if leader != target:
        raise TransferFailed(
            f"{target} did not take over within two election timeouts (leader now: {leader or 'none'}); "
            "check that it is running, reachable and caught up (GET /cluster/status), then retry",
            leader=leader,
        )
    answer: dict[str, Any] = {
        "status": "already_leader" if target == was else "transferred",
        "leader": target,
        "term": node.status().term,
    }
    preferred = node.config.preference_order()[0]
    if node.config.cluster.prefer_lowest_port and target != preferred:
        answer["note"] = (
            f"cluster.prefer_lowest_port is on: leadership returns to {preferred} once it has stayed "
            "caught up for cluster.leader_settle_ms"
        )
    return json_response(answer)


async def _forward_to_leader(request: web.Request, raw: bytes) -> web.Response:
    node = request.app[NODE]
    leader_url = node.leader_url
    if leader_url is None or forwarded(request):
        raise NoLeader("no leader is known to hand over from; retry shortly", retry_after=1)
    cluster = node.config.cluster
    timeout = aiohttp.ClientTimeout(total=2 * cluster.election_timeout_ms / 1000 + TRANSFER_SLACK_S)
    try:
        forwarder = request.app[FORWARDER]
        relayed = await forwarder.forward(request, raw, leader_url, node.id, timeout, as_member=True)
    except (NotApplied, OutcomeUnknown) as exc:
        raise NoLeader(f"the leader did not answer ({exc}); retry shortly", retry_after=1) from None
    return relayed.response(node.id)

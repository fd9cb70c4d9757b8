"""Where the cluster stands: ``/status``, ``/health``, ``/ready``, ``/heartbeat`` and
``/cluster/status``; and one administrative action, ``POST /cluster/transfer-leader``.

Only the leader knows how far each follower has replicated, so a follower answers
``/cluster/status`` by asking the leader (briefly) and falls back to its own partial view — which it
says it is — when the leader cannot be reached. Likewise only the leader can hand its leadership over:
a follower forwards ``transfer-leader`` to it, as it forwards writes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from ..errors import ApiError, NoLeader, NotFound
from ..node import Node
from ..raft import Role
from . import models
from .access import require_admin
from .body import read_json
from .errors import json_response
from .keys import CONFIG, NODE
from .tasks import FORWARDED_BY_HEADER, FORWARDER

LEADER_QUERY_TIMEOUT_S = 0.3
TRANSFER_SLACK_S = 2.0  # on top of the leader's own wait for the hand-over


def add_routes(app: web.Application) -> None:
    app.router.add_get("/status", status)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/heartbeat", heartbeat)
    app.router.add_get("/cluster/status", cluster_status)
    app.router.add_post("/cluster/transfer-leader", transfer_leader)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def node_status(node: Node) -> dict[str, Any]:
    core = node.core
    last_heartbeat = time.time() if node.is_leader else node.last_leader_contact
    return {
        "node_id": node.id,
        "url": node.members[node.id],
        "port": node.config.node.port,
        "role": core.role.value,
        "is_leader": node.is_leader,
        "leader": node.leader_url,
        "leader_id": node.leader_id,
        "term": core.term,
        "commit_index": core.commit,
        "applied_index": node.applied,
        "last_index": core.log.last_index,
        "last_heartbeat": _iso(last_heartbeat),
        "reachable_peers": node.transport.reachable_count(),
        "storage_error": node.storage_error,
    }


async def status(request: web.Request) -> web.Response:
    return json_response(node_status(request.app[NODE]))


async def health(request: web.Request) -> web.Response:
    node = request.app[NODE]
    return json_response({"status": "ok", "port": node.config.node.port, "is_leader": node.is_leader})


async def heartbeat(request: web.Request) -> web.Response:
    node = request.app[NODE]
    return json_response(
        {
            "status": "alive",
            "node_id": node.id,
            "is_leader": node.is_leader,
            "leader": node.leader_url,
            "term": node.core.term,
        }
    )


async def ready(request: web.Request) -> web.Response:
    """200 once this node knows a leader and has applied everything it knows to be committed."""
    node = request.app[NODE]
    problems = []
    if node.leader_id is None:
        problems.append("no leader known")
    if node.applied < node.core.commit:
        problems.append(f"applied {node.applied} of {node.core.commit} committed entries")
    if node.storage_error:
        problems.append(f"storage: {node.storage_error}")
    body: dict[str, Any] = {
        "ready": not problems,
        "node_id": node.id,
        "leader": node.leader_url,
        "problems": problems,
    }
    if not problems:
        return json_response(body)
    # An error like any other, plus the fields above.
    body.update(error="not_ready", message="this node is not ready: " + "; ".join(problems))
    return json_response(body, 503, {"Retry-After": "1"})


def leader_view(node: Node) -> dict[str, Any]:
    """The cluster as the leader sees it (or as this node sees it, when it is not the leader)."""
    core = node.core
    status = core.status()
    peers = {p.node_id: p for p in status.peers}
    tick_ms = node.config.cluster.tick_ms
    rows = []
    for member, url in node.members.items():
        row: dict[str, Any] = {"id": member, "url": url}
        if member == node.id:
            row.update(
                role=core.role.value,
                reachable=True,
                match_index=core.log.last_index,
                lag=0,
                last_contact_ms=0,
            )
        else:
            p = peers.get(member)
            reachable = node.transport.is_reachable(member)
            role = "leader" if member == core.leader else ("follower" if reachable else "down")
            contact = node.transport.last_contact_ms(member)
            if p is not None and p.last_contact_ticks is not None:
                contact = p.last_contact_ticks * tick_ms
            row.update(
                role=role,
                reachable=reachable,
                match_index=p.match if p else None,
                lag=core.log.last_index - p.match if p else None,
                last_contact_ms=None if contact is None else round(contact),
            )
        rows.append(row)
    return {
        "leader": node.leader_url,
        "leader_id": node.leader_id,
        "followers": [r["url"] for r in rows if r["role"] != "leader" and r["reachable"]],
        "term": core.term,
        "commit_index": core.commit,
        "nodes": rows,
        "view": "leader" if node.is_leader else "partial",
    }


async def cluster_status(request: web.Request) -> web.Response:
    node = request.app[NODE]
    body = leader_view(node)
    if node.core.role is not Role.LEADER and node.leader_url and "local" not in request.query:
        body = await _ask_leader(node, request.app[CONFIG].cluster.secret) or body
    body.update(current_node=node.members[node.id], current_node_id=node.id, is_leader=node.is_leader)
    for row in body["nodes"]:
        if row["id"] == node.id:
            row["applied_index"] = node.applied
    return json_response(body)


async def _ask_leader(node: Node, secret: str) -> dict[str, Any] | None:
    try:
        async with node.transport.session.get(
            f"{node.leader_url}/cluster/status?local=1",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=aiohttp.ClientTimeout(total=LEADER_QUERY_TIMEOUT_S),
        ) as resp:
            if resp.status == 200:
                return await resp.json()
    except (aiohttp.ClientError, TimeoutError, ValueError):
        pass
    return None


class TransferFailed(ApiError):
    status, code = 409, "transfer_failed"


async def transfer_leader(request: web.Request) -> web.Response:
    """``{"node": id}``: make that member the leader. Needs the cluster secret or the client token."""
    require_admin(request)
    node = request.app[NODE]
    api = request.app[CONFIG].api
    body = await read_json(request, api.max_body_bytes)
    target = models.request_types(api.max_title_chars, api.max_batch).transfer_target(body.value)
    if target not in node.members:
        known = ", ".join(node.members)
        raise NotFound(f"no member {target!r} in this cluster; its members are {known}", node=target)
    if not node.is_leader:
        return await _forward_to_leader(request, node, body.raw)
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
        "term": node.core.term,
    }
    preferred = node.config.preference_order()[0]
    if node.config.cluster.prefer_lowest_port and target != preferred:
        answer["note"] = (
            f"cluster.prefer_lowest_port is on: leadership returns to {preferred} once it has stayed "
            "caught up for cluster.leader_settle_ms"
        )
    return json_response(answer)


async def _forward_to_leader(request: web.Request, node: Node, raw: bytes) -> web.Response:
    if node.leader_url is None or FORWARDED_BY_HEADER in request.headers:
        raise NoLeader("no leader is known to hand over from; retry shortly", retry_after=1)
    cluster = node.config.cluster
    headers = {"Content-Type": "application/json", FORWARDED_BY_HEADER: node.id}
    if "Authorization" in request.headers:
        headers["Authorization"] = request.headers["Authorization"]
    timeout = aiohttp.ClientTimeout(total=2 * cluster.election_timeout_ms / 1000 + TRANSFER_SLACK_S)
    session = request.app[FORWARDER].session
    try:
        async with session.post(
            node.leader_url + "/cluster/transfer-leader", data=raw, headers=headers, timeout=timeout
        ) as resp:
            answer = await resp.read()
            relayed = {"Content-Type": resp.headers.get("Content-Type", "application/json")}
            relayed[FORWARDED_BY_HEADER] = node.id
            return web.Response(body=answer, status=resp.status, headers=relayed)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise NoLeader(
            f"the leader {node.leader_url} did not answer ({exc.__class__.__name__}); retry shortly",
            retry_after=1,
        ) from None

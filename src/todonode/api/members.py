"""``/cluster/members``: who the members are, adding one and removing one. Administrators only
(api/access.py): a change of membership changes who decides what is committed.

Only the leader changes the configuration and knows how far each member has replicated, so a follower
forwards every one of these requests to it, as it forwards writes; ``GET`` falls back to the follower's
own partial view when the leader cannot be reached. A change answers once it is applied on the leader,
or with why it could not be made (node/members.py lists the reasons; docs/api.md#members).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from ..errors import MembershipRefused, NoLeader, NotLeader
from ..node import NodeStatus
from . import models
from .access import require_admin
from .body import read_json
from .errors import json_response
from .forwarding import FORWARDER, NotApplied, OutcomeUnknown, forwarded
from .keys import CONFIG, NODE

CHANGE_TIMEOUT_S = 15.0  # the leader answers once the change is applied: a commit, or two for a learner


def members_body(status: NodeStatus) -> dict[str, Any]:
    """``GET /cluster/members`` as this node sees them: complete on the leader, partial elsewhere."""
    membership = status.membership
    assert membership is not None, "a started node knows its membership"
    kept = set(membership.kept_learners)
    rows = [
        {
            "id": status.id,
            "url": status.url,
            "role": "learner" if membership.role == "learner" else "voter",
            "reachable": True,
            "match_index": status.last_index if status.is_leader else None,
            "lag": 0 if status.is_leader else None,
            "kept_learner": status.id in kept,
        }
    ]
    rows += [
        {
            "id": peer.id,
            "url": peer.url,
            "role": "voter" if peer.voter else "learner",
            "reachable": peer.reachable,
            "match_index": peer.match_index,
            "lag": status.lag(peer),
            "kept_learner": peer.id in kept,
        }
        for peer in status.peers
    ]
    if membership.role in ("joining", "removed"):
        rows = rows[1:]
    return {
        "cluster_id": status.cluster_id,
        "leader_id": status.leader_id,
        "view": "leader" if status.is_leader else "partial",
        "promote_lag": membership.promote_lag,
        "members": rows,
        "retired": list(membership.retired),
    }


async def list_members(request: web.Request) -> web.Response:
    require_admin(request)
    node = request.app[NODE]
    if not node.is_leader and node.leader_url and not forwarded(request):
        try:
            return await _forward(request, b"")
        except NoLeader:
            pass  # the leader did not answer: this node's own view, which says it is partial
    return json_response(members_body(node.status()))


async def add_member(request: web.Request) -> web.Response:
    require_admin(request)
    node = request.app[NODE]
    config = request.app[CONFIG]
    body = await read_json(request, config.api)
    wanted = models.request_types(config.api.max_title_chars, config.api.max_batch).member_to_add(body.value)
    url = _member_url(wanted.url, "https" if config.tls.enabled else "http")
    if not node.is_leader:
        return await _forward(request, body.raw)
    try:
        member_id = await node.add_member(url, wanted.id, learner=wanted.learner)
    except NotLeader:
        return await _forward(request, body.raw)
    answer = {
        "id": member_id,
        "url": url,
        "role": "learner",
        "cluster_id": node.cluster_id,
        "members": dict(node.members),
    }
    return json_response(answer, 201)


async def remove_member(request: web.Request) -> web.Response:
    require_admin(request)
    node = request.app[NODE]
    member_id = request.match_info["id"]
    if not node.is_leader:
        return await _forward(request, b"")
    try:
        await node.remove_member(member_id)
    except NotLeader:
        return await _forward(request, b"")
    return json_response({"id": member_id, "removed": True})


def _member_url(given: str, scheme: str) -> str:
    """``given`` (which the schema has checked is ``http(s)://host:port``) as members' URLs are written:
    lower case, no trailing "/"; 409 if its scheme is not the cluster's."""
    parts = urlsplit(given)
    if parts.scheme != scheme:
        raise MembershipRefused(
            "url_scheme",
            f"this cluster speaks {scheme}: a member's URL is {scheme}://host:port, not {given[:80]}",
        )
    host = (parts.hostname or "").lower()
    netloc = f"[{host}]" if ":" in host else host
    return f"{scheme}://{netloc}:{parts.port}"


async def _forward(request: web.Request, raw: bytes) -> web.Response:
    node = request.app[NODE]
    leader_url = node.leader_url
    if leader_url is None or forwarded(request):
        raise NoLeader("no leader is known to make the change; retry shortly", retry_after=1)
    try:
        relayed = await request.app[FORWARDER].forward(
            request, raw, leader_url, node.id, aiohttp.ClientTimeout(total=CHANGE_TIMEOUT_S), as_member=True
        )
    except (NotApplied, OutcomeUnknown) as exc:
        raise NoLeader(f"the leader did not answer ({exc}); retry shortly", retry_after=1) from None
    return relayed.response(node.id)

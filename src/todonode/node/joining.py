"""Joining a running cluster: a node with an empty data directory and ``cluster.join`` (or a removed
node with ``cluster.auto_rejoin``) asks a member to add it, as any administrator would
(``POST /cluster/members``, forwarded to the leader).

The leader adds it as a learner under an id no member ever had, and answers with that id, the cluster id
and where every member is. The node writes them to its MEMBER file before it does anything else
(storage/member_file.py); from then on it is that member of that cluster, receives a snapshot and the
log from the leader, and is promoted to voter once it has caught up (node/autopilot.py).

A refusal that asking again cannot change (an id or URL in use, no administrator rights) stops the node
with the reason; anything else — no leader yet, a member down, a change already in flight, a cluster
not yet at the version that changes members — is asked again until it succeeds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp

from .. import tls
from ..config import Config
from ..privacy import PRIVATE_DIR
from ..storage import member_file
from ..storage.member_file import Membership

log = logging.getLogger("todonode.node")

RETRY_S = 0.5
ASK_TIMEOUT_S = 30.0  # the leader answers once the change is applied, or says why not
RETRIED = {408, 421, 425, 429, 500, 502, 503, 504}
# Refusals that time lifts: a change or an election under way, or a cluster that moves to the version
# that changes members as soon as every voter has announced it.
RETRIED_CODES = {
    "change_in_flight",
    "term_not_committed",
    "no_leader",
    "no_quorum",
    "unavailable",
    "cluster_version_too_old",
}


KEPT = {"LOCK"}  # the lock stays where it is: another process may be opening it (storage/lock.py)


class JoinRefused(Exception):
    """The cluster will not add this node; the message says why and what to do."""


async def ask_to_join(config: Config, self_url: str, member_urls: list[str]) -> Membership:
    """Ask the members at ``member_urls`` (one after another, again and again) to add this node at
    ``self_url``; returns its membership once one of them has. JoinRefused for a lasting refusal."""
    headers = {"Content-Type": "application/json"}
    if not config.tls.mutual:
        headers["Authorization"] = f"Bearer {config.cluster.secret}"  # the cluster's own credentials
    context = tls.client_context(config.tls, present_certificate=True)
    timeout = aiohttp.ClientTimeout(total=ASK_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context or True)) as session:
        said: set[str] = set()
        while True:
            for url in member_urls:
                try:
                    async with session.post(
                        f"{url}/cluster/members", json={"url": self_url}, headers=headers, timeout=timeout
                    ) as resp:
                        answer: dict[str, Any] = await resp.json(content_type=None)
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    answer, status = {"message": f"{url} did not answer ({exc.__class__.__name__})"}, 503
                if status == 201:
                    log.info("joined cluster %s as %s (through %s)", answer["cluster_id"], answer["id"], url)
                    return Membership(answer["id"], answer["cluster_id"], dict(answer["members"]))
                message = str(answer.get("message", answer))
                if status not in RETRIED and answer.get("error") not in RETRIED_CODES:
                    raise JoinRefused(f"{url} refused to add this node: {message}")
                if message not in said:
                    said.add(message)
                    log.info("asking to join: %s; asking again", message)
            await asyncio.sleep(RETRY_S)


def start_over(data_dir: Path, old_id: str, membership: Membership) -> Path:
    """After the node stopped: set everything the removed member ``old_id`` wrote aside (never
    deleted), and make the directory that of the new member. Returns where the old files went."""
    aside = data_dir / f"removed-{old_id}-{int(time.time())}"
    aside.mkdir(mode=PRIVATE_DIR)
    for path in data_dir.iterdir():
        if path.name not in KEPT and not path.name.startswith("removed-"):
            path.rename(aside / path.name)
    member_file.save(data_dir, membership)
    log.info("set the files of %s aside in %s; starting over as %s", old_id, aside, membership.member_id)
    return aside

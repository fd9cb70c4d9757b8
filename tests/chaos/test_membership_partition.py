"""Membership changes across a real partition: one node per network namespace, links taken down. A
node added while a member is cut off joins through the majority, and the cut-off member learns the new
configuration once its link is back; nothing acknowledged is lost on the way."""

from __future__ import annotations

import re

import pytest

from tests.integration.harness import wait_for
from tests.integration.membership import ADMIN
from tests.needs import NETNS

from .runner import chaos_cluster, converge, wait_for_leader
from .test_multihost import Writes


@pytest.mark.needs(NETNS)
async def test_a_node_added_while_a_member_is_cut_off_joins_and_that_member_learns_it(tmp_path, client):
    with chaos_cluster("netns", tmp_path / "cluster", 5, log_level="info") as (cluster, network):
        assert network is not None
        nodes = cluster.nodes
        founders, joiner = nodes[:4], nodes[4]
        urls = ", ".join(f'"{n.url}"' for n in founders)
        for node in founders:  # four members; the fifth namespace holds the node that joins
            node.config.write_text(
                re.sub(r"nodes = \[[^\]]*\]", f"nodes = [{urls}]", node.config.read_text())
            )
        joiner.config.write_text(
            re.sub(
                r"nodes = \[[^\]]*\]",
                f'nodes = ["{joiner.url}"]\njoin = "{founders[0].url}"',
                joiner.config.read_text(),
            )
        )
        for node in founders:
            cluster.start(node.index)
        await wait_for_leader(client, cluster)
        writes = Writes(client)
        for node in founders:
            await writes.acked_write(node, f"before-{node.index}")

        cut_off = founders[3]
        network.isolate(cut_off.index)
        cluster.start(joiner.index)
        majority = [*founders[:3], joiner]

        async def joiner_votes() -> bool:
            for node in founders[:3]:
                code, body, _ = await client.call(
                    "GET", node.url + "/cluster/members", headers=ADMIN, timeout=2
                )
                if code == 200 and body["view"] == "leader":
                    return any(m["id"] == joiner.id and m["role"] == "voter" for m in body["members"])
            return False

        await wait_for(joiner_votes, 60, f"{joiner.id} to join and vote while {cut_off.id} is cut off")
        for node in majority:
            await writes.acked_write(node, f"during-{node.index}")

        network.reconnect(cut_off.index)

        async def cut_off_knows() -> bool:
            status = await client.status(cut_off)
            return bool(status) and status["quorum"]["voters"] == 5 and status["membership"] == "voter"

        await wait_for(cut_off_knows, 60, f"{cut_off.id} to learn the five-voter configuration")
        lists, problem = await converge(client, cluster, 60)
        assert problem is None, problem
        writes.assert_final(lists[founders[0].id])

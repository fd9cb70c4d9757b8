"""The hostile-client suite's short profile (``make abuse`` runs the full one): against the leader of a
real three-node cluster, DNS rebinding, 2,000 idle sockets, slowloris heads and bodies, 20 readers of
the largest page, a flood of future min_index reads and a flood of keyed writes, each while a writer
in a process of its own keeps writing. Every defence must hold, every write succeed, and no election
happen. The latencies, memory and loop stalls are printed for the record: the machine decides them,
so they are not asserted.

"No election" is a claim about timing, so the suite runs alone (``make test`` runs the ``alone`` tests
after the parallel ones)."""

from __future__ import annotations

import pytest

from tests.integration.harness import Client
from tests.needs import LOOPBACK_ADDRESSES, MANY_OPEN_FILES

from .attacks import ATTACKS
from .suite import SHORT, SIZE, cluster_options, cpu_model, run_suite, table


@pytest.mark.alone
@pytest.mark.needs(LOOPBACK_ADDRESSES, MANY_OPEN_FILES)
async def test_hostile_clients_cost_no_election_no_write_and_change_nothing(make_cluster, client: Client):
    results = await run_suite(make_cluster(SIZE, **cluster_options(SHORT)), client, SHORT)
    print("\n" + table(results, cpu_model()))
    assert [r.attack for r in results] == list(ATTACKS)
    problems = {r.attack: r.problems for r in results if r.problems}
    assert not problems, problems

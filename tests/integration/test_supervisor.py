"""scripts/cluster.py, the supervisor of `make cluster`, `make node` and `make demo`: its nodes never
outlive it, however it ends; the PID files name the node and nothing else; and in demo mode every
control, asked of any node, does to the node what it says."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import http, wait_until

from .harness import SECRET, ProcessCluster
from .supervised import JSON, SCRIPT, Supervised, act, demo_state, gone, process_state, status_of


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Callable[..., Supervised]]:
    made: list[Supervised] = []

    def make(size: int = 3, *, demo: bool = False) -> Supervised:
        supervised = Supervised(tmp_path / f"s{len(made)}", size, demo=demo)
        made.append(supervised)
        return supervised

    yield make
    for supervised in made:
        supervised.close()
        print(f"----- {supervised.log} -----\n{supervised.output()[-8000:]}")  # shown if the test failed


@pytest.mark.parametrize("demo", [False, True], ids=["cluster", "demo"])
def test_kill_9_of_the_supervisor_takes_every_node_with_it(
    supervise: Callable[..., Supervised], demo: bool
) -> None:
    s = supervise(demo=demo)
    pids = s.wait_running()
    os.kill(pids[1], signal.SIGSTOP)  # a stopped node too: it cannot handle a signal, but dies of SIGKILL
    s.proc.kill()
    s.proc.wait(timeout=10)
    wait_until(lambda: all(gone(pid) for pid in pids), 10, f"nodes {pids} to die with their supervisor")


def test_the_pid_file_names_one_node_and_the_others_keep_running(
    supervise: Callable[..., Supervised],
) -> None:
    s = supervise()
    pids = s.wait_running()
    os.kill(int(s.pid_files[0].read_text()), signal.SIGKILL)  # what the README's tour does
    wait_until(lambda: not s.pid_files[0].exists(), 10, "the stopped node's PID file to go")
    wait_until(lambda: "exited with status -9" in s.output(), 10, "the supervisor to report the stop")
    assert s.proc.poll() is None
    assert all(not gone(pid) for pid in pids[1:])


def test_ctrl_c_stops_every_node_gracefully(supervise: Callable[..., Supervised]) -> None:
    s = supervise()
    pids = s.wait_running()
    os.kill(pids[2], signal.SIGSTOP)  # a paused node is resumed to stop
    s.proc.send_signal(signal.SIGINT)
    assert s.proc.wait(timeout=30) == 0
    assert all(gone(pid) for pid in pids)
    assert "all nodes stopped" in s.output() and "exited with status" not in s.output()
    assert not any(f.exists() for f in s.pid_files)


# ============================================================================================ demo mode


def test_pause_and_resume_signal_the_node(supervise: Callable[..., Supervised]) -> None:
    s = supervise(demo=True)
    pids = s.wait_running()
    node = s.cluster.nodes[2].id
    assert act(s, 0, 2, "pause")[node]["process"] == "paused"
    assert process_state(pids[2]) == "T"
    assert act(s, 1, 2, "resume")[node]["process"] == "running"
    wait_until(lambda: process_state(pids[2]) != "T", 5, "the node to run again")


def test_stop_kills_the_node_and_restart_brings_it_back(supervise: Callable[..., Supervised]) -> None:
    s = supervise(demo=True)
    pids = s.wait_running()
    node = s.cluster.nodes[1].id
    assert act(s, 0, 1, "stop")[node] | {"pid": None} == {**demo_state(s, 2)[node], "process": "down"}
    assert gone(pids[1]) and not s.pid_files[1].exists()
    restarted = act(s, 2, 1, "restart")[node]
    assert restarted["process"] == "restarting" and restarted["pid"] not in (None, pids[1])
    wait_until(lambda: demo_state(s, 0)[node]["process"] == "running", 30, "the restarted node to report")
    assert status_of(s, 1) is not None and s.pid(1) == restarted["pid"]


def test_isolate_cuts_the_node_off_both_ways_and_heal_reconnects_it(
    supervise: Callable[..., Supervised],
) -> None:
    s = supervise(demo=True)
    s.wait_running()
    node = s.cluster.nodes[2].id
    assert act(s, 0, 2, "isolate")[node]["isolated"] is True

    def cut_off() -> bool:
        own, other = status_of(s, 2), status_of(s, 0)
        return bool(own and other and own["reachable_peers"] == 0 and other["reachable_peers"] == 1)

    wait_until(cut_off, 20, f"{node} and its peers to lose each other")
    assert status_of(s, 2) is not None  # its HTTP API still answers
    assert act(s, 1, 2, "heal")[node]["isolated"] is False
    wait_until(lambda: (status_of(s, 2) or {}).get("reachable_peers") == 2, 20, f"{node} back in touch")


def test_a_slow_disk_makes_the_leaders_writes_wait_for_it(supervise: Callable[..., Supervised]) -> None:
    s = supervise(demo=True)
    s.wait_running()
    leaders = wait_until(
        lambda: [i for i in range(3) if (status_of(s, i) or {}).get("is_leader")], 30, "a leader"
    )
    leader = leaders[0]
    node = s.cluster.nodes[leader].id
    delay_ms = act(s, 0, leader, "slow-disk")[node]["disk_delay_ms"]
    assert delay_ms == demo_state(s, 1)[node]["disk_delay_ms"] > 0
    url = f"{s.url(leader)}/tasks"
    request = urllib.request.Request(url, data=b'{"title": "slow"}', method="POST", headers=JSON)
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.status == 201
    assert time.monotonic() - started >= delay_ms / 1000  # its own fsync waited that long first
    assert act(s, 1, leader, "normal-disk")[node]["disk_delay_ms"] == 0


def test_the_last_node_that_answers_may_not_be_stopped_or_paused(
    supervise: Callable[..., Supervised],
) -> None:
    s = supervise(2, demo=True)
    s.wait_running()
    act(s, 0, 1, "stop")
    for action in ("stop", "pause"):
        status, body, _ = http("POST", f"{s.url(0)}/demo/nodes/{s.cluster.nodes[0].id}/{action}", {})
        assert (status, body["error"]) == (409, "refused")
        assert "last node that answers" in body["message"]
    status, body, _ = http("POST", f"{s.url(0)}/demo/nodes/{s.cluster.nodes[1].id}/resume", {})
    assert (status, body["error"]) == (409, "refused")  # it is down, not paused


def test_slow_motion_multiplies_every_timing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    monkeypatch.setenv("TODONODE_SECRET", SECRET)
    import demo_control

    from todonode.config import load_config

    cluster = ProcessCluster(tmp_path, 2)
    original = load_config(cluster.nodes[0].config).cluster
    configs, socket = demo_control.write_configs([n.config for n in cluster.nodes], tmp_path / "demo", 10)
    demo = load_config(configs[0])
    for timing in demo_control.TIMINGS:
        assert getattr(demo.cluster, timing) == 10 * getattr(original, timing), timing
    assert demo.cluster.nodes == original.nodes
    assert demo.demo.supervisor == socket and demo.node.data_dir == tmp_path / "demo" / demo.node.id

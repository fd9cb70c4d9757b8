"""The classroom cluster in the browser: `make demo`'s supervisor runs four real nodes in demo mode, and
each test drives the page's controls in Chromium, then checks both what the page shows and what the
cluster did (processes, statuses, writes)."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.integration.harness import ProcessCluster
from tests.integration.supervised import (
    JSON,
    Supervised,
    act,
    demo_state,
    gone,
    leader_of,
    process_state,
    status_of,
)
from tests.needs import CHROMIUM

from .conftest import TIMINGS, http, screenshot, wait_until, write

pytestmark = pytest.mark.needs(CHROMIUM)

SIZE = 4
SLOW_S = 30  # an election, a restart or a failover on a loaded two-core machine
AT_ONCE_MS = 1000
PICTURE = {"width": 1280, "height": 1040}
PICTURE_TASKS = ["Watch the pre-votes fail", "Cut off a follower", "Learn Raft"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervised]:
    supervised = Supervised(tmp_path_factory.mktemp("e2e-demo"), SIZE, demo=True, timings=TIMINGS)
    try:
        supervised.wait_running()
        yield supervised
    finally:
        supervised.close()
        print(supervised.output()[-8000:])


def ids(s: Supervised) -> list[str]:
    return [n.id for n in s.cluster.nodes]


@pytest.fixture
def healthy(demo: Supervised) -> Supervised:
    """Every node running, in touch and at full speed, and a leader agreed on."""
    for node_id, node in demo_state(demo, 0 if status_of(demo, 0) else 1).items():
        i = ids(demo).index(node_id)
        via = next(j for j in range(SIZE) if j != i and status_of(demo, j))
        if node["process"] == "paused":
            act(demo, via, i, "resume")
        elif node["process"] == "down":
            act(demo, via, i, "restart")
        if node["isolated"]:
            act(demo, via, i, "heal")
        if node["disk_delay_ms"]:
            act(demo, via, i, "normal-disk")
    demo.wait_running()
    leader_of(
        demo, preferred=True, timeout=SLOW_S
    )  # where leadership settles: no hand-over comes in the middle
    return demo


def card(page: Any, node_id: str) -> Any:
    return page.locator(f'.nodes [data-node="{node_id}"]')


def control(page: Any, node_id: str, action: str) -> Any:
    return card(page, node_id).locator(f'button[data-action="{action}"]')


def press(page: Any, node_id: str, action: str, attribute: str, shown: str | re.Pattern[str]) -> None:
    """Click a card's control; the card must show its new state at once, before the supervisor has
    answered (``attribute`` of the card element)."""
    control(page, node_id, action).click()
    expect(card(page, node_id)).to_have_attribute(attribute, shown, timeout=AT_ONCE_MS)


def open_demo(open_page: Any, s: Supervised, i: int, **options: Any) -> Any:
    session = open_page(**options)
    session.goto(s.url(i) + "/")
    expect(session.page.locator("#messages")).to_be_visible()
    expect(session.page.locator(".nodes [data-node]")).to_have_count(SIZE)
    return session


def other_than(s: Supervised, *avoid: int) -> int:
    return next(i for i in range(SIZE) if i not in avoid)


# ------------------------------------------------------------------------------------- the controls


def test_every_card_has_the_controls_and_a_pause_shows_at_once(healthy: Supervised, open_page: Any) -> None:
    s = healthy
    leader = leader_of(s)
    here, target = other_than(s, leader), other_than(s, leader, other_than(s, leader))
    session = open_demo(open_page, s, here)
    page = session.page
    for node_id in ids(s):
        for action in ("stop", "pause", "restart", "isolate", "slow-disk"):
            expect(control(page, node_id, action)).to_be_visible()
        for action in ("resume", "heal", "normal-disk"):
            expect(control(page, node_id, action)).to_be_hidden()
    node_id = ids(s)[target]
    pid = s.pid(target)
    assert pid is not None

    press(page, node_id, "pause", "data-process", "paused")
    expect(card(page, node_id).locator(".role-text")).to_have_text("Paused")
    wait_until(lambda: process_state(pid) == "T", 5, f"{node_id} stopped by SIGSTOP")
    expect(control(page, node_id, "resume")).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text(f"{node_id} paused (SIGSTOP)")

    press(page, node_id, "resume", "data-process", "running")
    wait_until(lambda: process_state(pid) not in ("T", None), 5, f"{node_id} running again")
    expect(card(page, node_id).locator(".role-text")).to_have_text("Follower", timeout=SLOW_S * 1000)


def test_stop_and_restart_from_the_page(healthy: Supervised, open_page: Any) -> None:
    s = healthy
    leader = leader_of(s)
    here, target = other_than(s, leader), other_than(s, leader, other_than(s, leader))
    session = open_demo(open_page, s, here)
    session.allow_errors = True  # the browser logs the refused connections to the stopped node
    page = session.page
    node_id = ids(s)[target]
    pid = s.pid(target)
    assert pid is not None

    press(page, node_id, "stop", "data-process", "down")
    expect(card(page, node_id).locator(".role-text")).to_have_text("Down")
    wait_until(lambda: gone(pid), 10, f"{node_id} killed")
    assert status_of(s, target) is None
    expect(control(page, node_id, "restart")).to_have_text("Start")

    press(page, node_id, "restart", "data-process", re.compile("restarting|running"))
    expect(card(page, node_id)).to_have_attribute("data-process", "running", timeout=SLOW_S * 1000)
    expect(card(page, node_id).locator(".role-text")).to_have_text("Follower", timeout=SLOW_S * 1000)
    new_pid = s.pid(target)
    assert new_pid not in (None, pid) and status_of(s, target) is not None


def test_cutting_a_node_off_drops_its_messages_both_ways_until_it_is_healed(
    healthy: Supervised, open_page: Any
) -> None:
    s = healthy
    leader = leader_of(s)
    here, target = other_than(s, leader), other_than(s, leader, other_than(s, leader))
    page = open_demo(open_page, s, here).page
    node_id = ids(s)[target]

    press(page, node_id, "isolate", "data-isolated", "true")
    expect(card(page, node_id).locator(".chip-cut")).to_have_text("✂ cut off")
    wait_until(lambda: (status_of(s, target) or {}).get("reachable_peers") == 0, SLOW_S, f"{node_id} alone")
    wait_until(
        lambda: (status_of(s, leader) or {}).get("reachable_peers") == SIZE - 2,
        SLOW_S,
        "its peers without it",
    )
    # The message view draws what reaches it as dropped.
    expect(page.locator(f'.msg-dot[data-to="{node_id}"].fate-dropped-there').first).to_be_attached(
        timeout=10_000
    )
    expect(page.locator(f'.msg-node[data-node="{node_id}"]')).to_have_class(re.compile("is-cut"))

    press(page, node_id, "heal", "data-isolated", "false")
    wait_until(
        lambda: (status_of(s, target) or {}).get("reachable_peers") == SIZE - 1, SLOW_S, f"{node_id} back"
    )


def test_a_slow_disk_on_the_leader_makes_every_write_wait(healthy: Supervised, open_page: Any) -> None:
    s = healthy
    leader = leader_of(s)
    page = open_demo(open_page, s, other_than(s, leader)).page
    node_id = ids(s)[leader]

    press(page, node_id, "slow-disk", "data-slow-disk", "true")
    delay_ms = wait_until(lambda: demo_state(s, leader)[node_id]["disk_delay_ms"], 10, "the disk slowed")
    expect(card(page, node_id).locator(".chip-disk")).to_have_text(f"◔ slow disk · {delay_ms} ms")
    request = urllib.request.Request(
        f"{s.url(leader)}/tasks", data=b'{"title": "slow"}', method="POST", headers=JSON
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.status == 201
    assert time.monotonic() - started >= delay_ms / 1000

    press(page, node_id, "normal-disk", "data-slow-disk", "false")
    wait_until(lambda: demo_state(s, leader)[node_id]["disk_delay_ms"] == 0, 10, "the disk back to normal")


# --------------------------------------------------------------------------------- the messages view


def test_the_messages_flow_and_a_pause_freezes_them(healthy: Supervised, open_page: Any) -> None:
    page = open_demo(open_page, healthy, 0).page
    view = page.locator("#messages")
    expect(page.locator('.msg-dot[data-kind="heartbeat"]').first).to_be_attached()
    expect(page.locator('.messages-legend [data-group="heartbeat"] .legend-rate')).to_have_text(
        re.compile(r"\d+/s")
    )

    toggle = page.locator(".messages-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".messages-note")).to_contain_text("Paused at")
    shown = "() => [...document.querySelectorAll('.msg-dot')].map((d) => d.getAttribute('transform')).join()"
    frozen = page.evaluate(shown)
    reports = int(view.get_attribute("data-reports") or 0)
    page.wait_for_function(
        "(n) => Number(document.querySelector('#messages').dataset.reports) >= n", arg=reports + 12
    )
    assert page.evaluate(shown) == frozen, "nothing moves or comes while paused, though reports keep arriving"

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    page.wait_for_function(f"(before) => ({shown})() !== before", arg=frozen)


# ------------------------------------------------------------------------------------ the elections


def test_stopping_the_leader_is_told_as_an_election_in_words(healthy: Supervised, open_page: Any) -> None:
    s = healthy
    leader = leader_of(s)
    here = other_than(s, leader)
    session = open_demo(open_page, s, here)
    session.allow_errors = True
    page = session.page
    old = ids(s)[leader]
    old_term = status_of(s, here)["term"]

    control(page, old, "stop").click()
    new = ids(s)[leader_of(s)]
    term = status_of(s, ids(s).index(new))["term"]
    assert new != old and term > old_term
    story = page.locator(".tl-story", has_text=f"Election for term {term} · won by {new} with")
    expect(story).to_be_visible(timeout=10_000)
    expect(story).to_contain_text(re.compile(r"heard nothing from a leader for [\d.]+ (ms|s)"))
    expect(story).to_contain_text(f"voted for {new} in term {term}")
    expect(story.locator(".st_won")).to_contain_text(f"{new} won term {term} with")
    expect(page.locator("#cluster-summary")).to_contain_text(f"Leader {new}")

    page.locator('.lang-btn[data-lang="vi"]').click()
    told = page.locator(".tl-story", has_text=f"Bầu chọn cho nhiệm kỳ {term} · {new} thắng với")
    expect(told).to_contain_text(f"{new} thắng nhiệm kỳ {term} với")


# ----------------------------------------------------------------------------------- the experiments


def experiment(page: Any, name: str) -> Any:
    return page.locator(f'[data-experiment="{name}"]')


def passed(page: Any, name: str, step: str) -> Any:
    return experiment(page, name).locator(f'[data-step="{step}"] .exp-check[data-check="passed"]')


def start_experiment(open_page: Any, s: Supervised, name: str, here: int) -> Any:
    """A page on node ``here`` following experiment ``name``."""
    session = open_demo(open_page, s, here)
    session.allow_errors = True  # experiments stop and pause nodes: the browser logs refused connections
    experiment(session.page, name).locator(".experiment-start").click()
    return session.page


def do_step(page: Any, name: str) -> None:
    experiment(page, name).locator(".exp-step.is-current button[data-do]").click()


def test_experiment_kill_the_leader(healthy: Supervised, open_page: Any) -> None:
    s = healthy
    leader = leader_of(s)
    page = start_experiment(open_page, s, "kill", other_than(s, leader))
    expect(experiment(page, "kill").locator(".exp-step.is-current .exp-do")).to_contain_text(ids(s)[leader])
    do_step(page, "kill")
    new = ids(s)[leader_of(s, not_=leader)]
    expect(passed(page, "kill", "stop")).to_contain_text(f"{new} leads term", timeout=SLOW_S * 1000)
    do_step(page, "kill")
    expect(passed(page, "kill", "restart")).to_contain_text(
        f"{ids(s)[leader]} is back", timeout=SLOW_S * 1000
    )
    expect(experiment(page, "kill").locator(".experiment-status")).to_have_text("✓ Done")
    assert status_of(s, leader) is not None


def test_experiment_pause_the_leader_and_watch_it_step_down(healthy: Supervised, open_page: Any) -> None:
    s = healthy
    leader = leader_of(s)
    page = start_experiment(open_page, s, "pause", other_than(s, leader))
    old = ids(s)[leader]
    do_step(page, "pause")
    expect(passed(page, "pause", "pause")).to_contain_text("leads term", timeout=SLOW_S * 1000)
    assert process_state(s.pid(leader) or 0) == "T"
    do_step(page, "pause")
    expect(passed(page, "pause", "resume")).to_contain_text(f"{old} stepped down", timeout=SLOW_S * 1000)
    expect(page.locator("#timeline")).to_contain_text(f"{old} stepped down")


def probe_until_passed(page: Any, name: str, step: str, what: str) -> Any:
    """Try the step's write (and read) until its check passes: the outcome of one try can depend on
    timing (a write sent before the leader noticed it lost its majority; one slowed by a loaded
    machine). The check that passed."""
    check = passed(page, name, step)

    def tried() -> bool:
        experiment(page, name).locator(".exp-step.is-current button[data-probe]").click()
        try:
            expect(check).to_be_attached(timeout=SLOW_S * 1000 // 3)
        except AssertionError:
            return False
        return True

    wait_until(tried, SLOW_S, what)
    return check


def test_experiment_cut_off_a_minority_then_a_majority(healthy: Supervised, open_page: Any) -> None:
    s = healthy
    leader = leader_of(s)
    name = "partition"
    page = start_experiment(open_page, s, name, leader)
    do_step(page, name)
    accepted = probe_until_passed(page, name, "minority", "a write accepted")
    expect(accepted).to_contain_text("the write was accepted")
    cut = [n for n, node in demo_state(s, leader).items() if node["isolated"]]
    assert len(cut) == 1

    do_step(page, name)
    expect(page.locator(".node[data-isolated='true']")).to_have_count(2)

    refused = probe_until_passed(page, name, "majority", "a write refused and a read answered")
    expect(refused).to_contain_text(re.compile(r"Write refused \((no_quorum|no_leader|unavailable)\)"))
    expect(refused).to_contain_text(re.compile(r"The read answered \d+ tasks"))
    code, body, _ = http("POST", f"{s.url(leader)}/tasks", {"title": "refused"}, timeout=20)
    assert code == 503 and body["error"] in ("no_quorum", "no_leader", "unavailable"), body
    assert http("GET", f"{s.url(leader)}/tasks")[0] == 200

    do_step(page, name)
    expect(passed(page, name, "heal")).to_contain_text("4 of 4 nodes in touch", timeout=SLOW_S * 1000)
    assert not any(node["isolated"] for node in demo_state(s, leader).values())


def test_experiment_slow_one_disk(healthy: Supervised, open_page: Any) -> None:
    s = healthy
    name = "disk"
    page = start_experiment(open_page, s, name, leader_of(s))
    do_step(page, name)
    expect(page.locator(".node[data-slow-disk='true']")).to_have_count(1)
    # A follower's slow disk: a write is faster than the delay (a loaded machine may need a second try).
    probe_until_passed(page, name, "follower", "a write faster than the slow disk")
    do_step(page, name)
    slow = probe_until_passed(page, name, "leader", "a write that waited for the leader's disk")
    expect(slow).to_contain_text("at least the leader’s")
    do_step(page, name)
    expect(passed(page, name, "normal")).to_contain_text(
        "✓ Every disk is back to normal.", timeout=SLOW_S * 1000
    )


# ------------------------------------------------------------------------------ outside demo mode


def test_outside_demo_mode_the_page_has_no_controls(tmp_path: Any, open_page: Any) -> None:
    cluster = ProcessCluster(tmp_path, 1, timings=TIMINGS)
    cluster.start_all()
    try:
        url = cluster.nodes[0].url
        wait_until(lambda: http("GET", f"{url}/ready", timeout=2)[0] == 200, SLOW_S, "the node ready")
        session = open_page()
        session.goto(cluster.nodes[0].url + "/")
        expect(session.page.locator(".node")).to_have_count(1)
        page = session.page
        page.wait_for_function("document.querySelector('.node .role-text').textContent === 'Leader'")
        assert http("GET", f"{cluster.nodes[0].url}/demo")[0] == 404
        expect(page.locator("#messages")).to_be_hidden()
        expect(page.locator("#experiments")).to_be_hidden()
        expect(page.locator("button[data-action]")).to_have_count(0)
    finally:
        cluster.close()


# --------------------------------------------------------------------------------- the docs picture


def test_the_picture_for_the_readme(healthy: Supervised, open_page: Any) -> None:
    """A node cut off, the messages to it dropped, and the pre-vote it cannot win, for the README's
    tour (docs/demo.png, rewritten with UPDATE_DOCS_SCREENSHOTS=1)."""
    s = healthy
    leader = leader_of(s)
    write("DELETE", f"{s.url(leader)}/tasks?all=true")
    write("POST", f"{s.url(leader)}/tasks/batch", {"tasks": [{"title": t} for t in PICTURE_TASKS]})
    page = open_demo(open_page, s, leader, viewport=PICTURE).page
    expect(page.locator(".todo-list li")).to_have_count(len(PICTURE_TASKS))
    cut = ids(s)[SIZE - 1]
    control(page, cut, "isolate").click()
    expect(card(page, cut).locator(".reach")).to_have_text("unreachable", timeout=SLOW_S * 1000)
    expect(card(page, cut).locator(".role-text")).to_have_text("Pre-candidate", timeout=SLOW_S * 1000)
    page.evaluate("document.activeElement.blur()")
    page.mouse.move(0, PICTURE["height"] - 1)
    # Frozen the moment a message to the cut-off node is dropped, so the picture shows it.
    page.wait_for_function(f"() => document.querySelector('.msg-dot.is-dropped[data-to=\"{cut}\"]')")
    page.locator(".messages-toggle").click()
    page.wait_for_timeout(300)  # the button's colour change, for the picture only
    screenshot(page, "demo-cut-off", docs_name="demo.png")
    page.locator(".messages-toggle").click()

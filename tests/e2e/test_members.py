"""Membership on the page, on a real three-node cluster: a learner's card and its way to promotion,
each change on the timeline, and the administrator adding and removing a member from the page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.integration.harness import SECRET, ProcessCluster, free_port
from tests.needs import CHROMIUM

from .conftest import find_leader, http, screenshot, start_cluster, wait_until

pytestmark = pytest.mark.needs(CHROMIUM)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessCluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("e2e-members"), 3)
    yield cluster
    cluster.close()


def test_the_administrator_adds_a_learner_and_removes_it_and_the_timeline_tells_both(cluster, open_page):
    leader = find_leader(cluster, timeout=30, preferred=True)
    # Members change once the cluster has moved to the version that does (it then has an id).
    wait_until(lambda: http("GET", leader.url + "/status")[1].get("cluster_id"), 30, "the cluster id")
    session = open_page()
    page = session.page
    session.goto(leader.url)
    answers = iter([SECRET])
    page.on("dialog", lambda dialog: dialog.accept(next(answers, "")))  # the prompt, then the confirm

    page.locator(".members-admin summary").click()
    page.locator(".admin-sign-in").click()
    expect(page.locator(".admin-state")).to_have_text("Signed in as administrator.")
    expect(page.locator(".admin-members li")).to_have_count(3)

    url = f"http://127.0.0.1:{free_port()}"  # nobody listens there: it stays a learner, far behind
    new_id = f"node{url.rsplit(':', 1)[1]}"
    page.locator(".admin-url").fill(url)
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator(".admin-result")).to_have_text(
        f"Added {new_id} as a learner: promoted once caught up."
    )
    card = page.locator(f'.nodes li[data-id="{new_id}"]')
    expect(card.locator(".member-badge")).to_have_text("learner · waiting for it to answer")
    expect(card).to_have_class(re.compile(r"\bis-learner\b"))
    expect(page.locator("#timeline")).to_contain_text(f"{new_id} joined as a learner.")
    screenshot(page, "members-learner")

    page.locator(f'.admin-members button[data-remove="{new_id}"]').click()
    expect(page.locator(".admin-result")).to_have_text(f"Removed {new_id}.")
    expect(page.locator("#timeline")).to_contain_text(f"{new_id} was removed from the cluster.")
    expect(card).to_have_count(0)


def test_a_wrong_token_is_refused_and_not_kept(cluster, open_page):
    leader = find_leader(cluster, timeout=30, preferred=True)
    session = open_page()
    page = session.page
    session.allow_errors = True  # the browser logs the 401 of the check
    session.goto(leader.url)
    page.on("dialog", lambda dialog: dialog.accept("not-the-token"))
    page.locator(".members-admin summary").click()
    page.locator(".admin-sign-in").click()
    expect(page.locator(".admin-result")).to_have_text("That token does not allow administration.")
    expect(page.locator(".admin-add")).to_be_hidden()
    assert page.evaluate("() => sessionStorage.getItem('todonode.admin')") is None

"""TodoMVC's behaviour, the multi-line box, delete-all, live updates, safety and layout, through the
page of a real three-node cluster. Each test starts from an empty list."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.integration.harness import ProcessCluster
from tests.needs import CHROMIUM

from .conftest import (
    NOT_THE_PAGES,
    PHONE,
    Session,
    http,
    start_cluster,
    tasks_on,
    wait_until,
    write,
)

pytestmark = pytest.mark.needs(CHROMIUM)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessCluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("e2e-todomvc"), 3)
    yield cluster
    cluster.close()


def add(page: Any, *titles: str) -> None:
    for title in titles:
        page.locator(".new-todo").fill(title)
        page.locator(".new-todo").press("Enter")
    settled(page)


def checkbox(page: Any, title: str) -> Any:
    """A task's checkbox, found by its accessible name: the task's title."""
    return page.get_by_role("checkbox", name=title, exact=True)


def settled(page: Any) -> None:
    """Every action the page has sent is answered."""
    expect(page.locator(".todo-list li.pending")).to_have_count(0)


def titles(page: Any) -> Any:
    return page.locator(".todo-list li .title")


def count_writes(page: Any) -> list[tuple[str, str]]:
    """Every write the page sends from now on, as (method, path)."""
    sent: list[tuple[str, str]] = []

    def record(request: Any) -> None:
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            sent.append((request.method, re.sub(r"^https?://[^/]+", "", request.url)))

    page.on("request", record)
    return sent


# ---------------------------------------------------------------------------------------- adding


def test_the_new_task_input_has_the_focus_when_the_page_opens(open_page: Any, leader_url: str) -> None:
    """TodoMVC: the input for a new task is focused when the app loads, so one can type at once; the
    list arriving a moment later does not take the focus away."""
    write("POST", f"{leader_url}/tasks", {"title": "Already there"})
    session = open_page()
    session.goto(leader_url + "/")
    page = session.page
    expect(titles(page)).to_have_text(["Already there"])
    expect(page.locator(".new-todo")).to_be_focused()
    page.keyboard.type("Typed without a click")
    page.keyboard.press("Enter")
    settled(page)
    expect(titles(page)).to_have_text(["Already there", "Typed without a click"])


def test_enter_adds_a_trimmed_task_and_clears_the_input(app: Session, leader_url: str) -> None:
    page = app.page
    add(page, "  Buy milk  ")
    expect(titles(page)).to_have_text(["Buy milk"])
    expect(page.locator(".new-todo")).to_have_value("")
    assert [t["title"] for t in tasks_on_url(leader_url)] == ["Buy milk"]


def test_an_empty_or_blank_title_is_refused(app: Session) -> None:
    page = app.page
    writes = count_writes(page)
    for text in ("", "    "):
        page.locator(".new-todo").fill(text)
        page.locator(".new-todo").press("Enter")
    expect(page.locator("#announcer")).to_have_text("Type a task first.")
    expect(page.locator(".todo-list li")).to_have_count(0)
    assert writes == []


def test_main_and_footer_are_hidden_while_the_list_is_empty(app: Session) -> None:
    page = app.page
    expect(page.locator(".main")).to_be_hidden()
    expect(page.locator(".footer")).to_be_hidden()
    add(page, "Something")
    expect(page.locator(".main")).to_be_visible()
    expect(page.locator(".footer")).to_be_visible()
    page.locator(".todo-list li").hover()
    page.locator(".todo-list li .destroy").click()
    expect(page.locator(".main")).to_be_hidden()
    expect(page.locator(".footer")).to_be_hidden()


# ------------------------------------------------------------------------------ toggling, counting


def test_toggle_marks_complete_and_the_count_uses_the_right_plural(app: Session, leader_url: str) -> None:
    page = app.page
    count = page.locator(".todo-count")
    add(page, "One")
    expect(count).to_have_text("1 item left")
    add(page, "Two")
    expect(count).to_have_text("2 items left")
    # The checkbox is named by the task's title, for screen readers.
    checkbox(page, "One").check()
    expect(page.locator(".todo-list li").first).to_have_class(re.compile(r"\bcompleted\b"))
    expect(count).to_have_text("1 item left")
    checkbox(page, "Two").check()
    expect(count).to_have_text("0 items left")
    wait_until(lambda: all(t["completed"] for t in tasks_on_url(leader_url)), 10, "both done on the server")
    checkbox(page, "One").uncheck()
    expect(count).to_have_text("1 item left")


def test_toggle_all_completes_everything_and_reflects_the_state(app: Session) -> None:
    page = app.page
    add(page, "A", "B", "C")
    toggle_all = page.locator(".toggle-all")
    expect(toggle_all).not_to_be_checked()
    toggle_all.check()
    expect(page.locator(".todo-list li.completed")).to_have_count(3)
    expect(toggle_all).to_be_checked()
    toggle_all.uncheck()
    expect(page.locator(".todo-list li.completed")).to_have_count(0)
    # Completing every task one by one checks it too; reopening one clears it.
    for name in ("A", "B", "C"):
        checkbox(page, name).check()
    expect(toggle_all).to_be_checked()
    checkbox(page, "B").uncheck()
    expect(toggle_all).not_to_be_checked()


# ---------------------------------------------------------------------------------------- editing


def start_editing(page: Any, title: str) -> Any:
    page.locator(".todo-list li .title", has_text=title).dblclick()
    edit = page.locator(".todo-list li.editing .edit")
    expect(edit).to_be_focused()
    expect(edit).to_have_value(title)
    return edit


def test_double_click_edits_and_enter_saves_trimmed(app: Session, leader_url: str) -> None:
    page = app.page
    add(page, "Draft", "Other")
    edit = start_editing(page, "Draft")
    edit.fill("  Final  ")
    edit.press("Enter")
    expect(titles(page)).to_have_text(["Final", "Other"])
    expect(page.locator(".todo-list li.editing")).to_have_count(0)
    wait_until(lambda: {t["title"] for t in tasks_on_url(leader_url)} == {"Final", "Other"}, 10, "the rename")


def test_leaving_the_field_saves(app: Session) -> None:
    page = app.page
    add(page, "Before")
    edit = start_editing(page, "Before")
    edit.fill("After blur")
    page.locator(".todo-heading").click()  # focus moves away
    expect(titles(page)).to_have_text(["After blur"])


def test_escape_cancels_the_edit(app: Session) -> None:
    page = app.page
    writes = count_writes(page)
    add(page, "Keep me")
    writes.clear()
    edit = start_editing(page, "Keep me")
    edit.fill("Changed my mind")
    edit.press("Escape")
    expect(titles(page)).to_have_text(["Keep me"])
    expect(page.locator(".todo-list li.editing")).to_have_count(0)
    assert writes == []


def test_an_emptied_title_deletes_the_task(app: Session, leader_url: str) -> None:
    page = app.page
    add(page, "Doomed", "Stays")
    edit = start_editing(page, "Doomed")
    edit.fill("   ")
    edit.press("Enter")
    expect(titles(page)).to_have_text(["Stays"])
    wait_until(lambda: [t["title"] for t in tasks_on_url(leader_url)] == ["Stays"], 10, "the deletion")


def test_the_edit_button_works_from_the_keyboard(app: Session) -> None:
    page = app.page
    add(page, "Keyboard")
    page.get_by_role("button", name="Edit “Keyboard”", exact=True).focus()
    page.keyboard.press("Enter")
    edit = page.locator(".todo-list li.editing .edit")
    expect(edit).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.type(" only")
    page.keyboard.press("Enter")
    expect(titles(page)).to_have_text(["Keyboard only"])


# ------------------------------------------------------------------------------- deleting, clearing


def test_the_delete_button_appears_on_hover_and_deletes(app: Session) -> None:
    page = app.page
    add(page, "First", "Second")
    row = page.locator(".todo-list li", has_text="First")
    row.hover()
    row.locator(".destroy").click()
    expect(titles(page)).to_have_text(["Second"])


def test_clear_completed_removes_completed_and_hides_when_none(app: Session, leader_url: str) -> None:
    page = app.page
    clear = page.locator(".clear-completed")
    add(page, "Done 1", "Open", "Done 2")
    expect(clear).to_be_hidden()
    checkbox(page, "Done 1").check()
    checkbox(page, "Done 2").check()
    expect(clear).to_be_visible()
    settled(page)
    writes = count_writes(page)
    clear.click()
    expect(titles(page)).to_have_text(["Open"])
    expect(clear).to_be_hidden()
    assert writes == [("DELETE", "/tasks?completed=true")]
    wait_until(lambda: [t["title"] for t in tasks_on_url(leader_url)] == ["Open"], 10, "the clear")


def test_delete_all_asks_first(app: Session, cluster: ProcessCluster) -> None:
    page = app.page
    add(page, "x", "y", "z")
    dialogs: list[str] = []

    page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.locator(".delete-all").click()
    expect(page.locator(".todo-list li")).to_have_count(3)  # dismissed: nothing happens

    writes = count_writes(page)
    page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.locator(".delete-all").click()
    expect(page.locator(".todo-list li")).to_have_count(0)
    expect(page.locator(".main")).to_be_hidden()
    assert dialogs == ["Delete all 3 tasks on every node? This cannot be undone."] * 2
    assert writes == [("DELETE", "/tasks?all=true")]
    for node in cluster.nodes:
        wait_until(lambda node=node: tasks_on(node) == [], 10, f"an empty list on {node.id}")


# ------------------------------------------------------------------------------------- filtering


def test_filters_follow_the_hash_and_survive_a_reload(app: Session) -> None:
    page = app.page
    add(page, "Active one", "Done one")
    checkbox(page, "Done one").check()
    expect(page.locator(".todo-list li.completed")).to_have_count(1)

    page.get_by_role("link", name="Active").click()
    expect(page).to_have_url(re.compile(r"#/active$"))
    expect(titles(page)).to_have_text(["Active one"])
    expect(page.get_by_role("link", name="Active")).to_have_attribute("aria-current", "page")

    page.get_by_role("link", name="Completed").click()
    expect(page).to_have_url(re.compile(r"#/completed$"))
    expect(titles(page)).to_have_text(["Done one"])

    page.reload()
    expect(page.get_by_role("link", name="Completed")).to_have_class(re.compile(r"\bselected\b"))
    expect(titles(page)).to_have_text(["Done one"])

    page.get_by_role("link", name="All").click()
    expect(titles(page)).to_have_text(["Active one", "Done one"])


# ------------------------------------------------------------------------- the multi-line box


def test_fifty_lines_make_fifty_tasks_in_one_request(app: Session, leader_url: str) -> None:
    page = app.page
    sent: list[tuple[str, str, str | None]] = []
    page.on("request", lambda r: sent.append((r.method, r.url, r.headers.get("idempotency-key"))))
    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status) if r.request.method == "POST" else None)
    lines = [f"Batch task {i:02d}" for i in range(50)]
    text = "\n".join(lines[:25]) + "\n\n   \n" + "\n".join(f"  {line}  " for line in lines[25:]) + "\n"
    page.locator("details.batch summary").click()
    page.locator(".batch-text").fill(text)
    add_button = page.locator(".batch-add")
    expect(add_button).to_have_text("Add 50 tasks")
    add_button.click()
    expect(page.locator(".todo-list li")).to_have_count(50)
    expect(page.locator(".todo-list li.pending")).to_have_count(0)
    expect(titles(page)).to_have_text(lines)
    expect(page.locator(".batch-text")).to_have_value("")
    writes = [(method, url.split("/", 3)[3], key) for method, url, key in sent if method != "GET"]
    assert {(method, path) for method, path, _ in writes} == {("POST", "tasks/batch")}
    assert len({key for _, _, key in writes}) == 1, "one request: a retry (after a 503) repeats its key"
    assert len(writes) == 1 or answers[:-1] == [503] * (len(writes) - 1), answers
    assert sorted(t["title"] for t in tasks_on_url(leader_url)) == lines


# ------------------------------------------------------------------------------------ a long list


def test_a_long_list_shows_a_page_of_the_newest_and_the_new_row_at_once(
    open_page: Any, leader_url: str
) -> None:
    # More than the first request brings (200), so the rest arrives while the page already shows.
    for start in (0, 1000):
        write(
            "POST",
            f"{leader_url}/tasks/batch",
            {"tasks": [{"title": f"Old {n:04d}"} for n in range(start, start + 1000)][: 1250 - start]},
        )
    app = open_page()
    app.goto(leader_url + "/")
    page = app.page
    expect(page.locator(".todo-count")).to_have_text("1250 items left")
    expect(page.locator(".todo-list li")).to_have_count(100)
    expect(titles(page).first).to_have_text("Old 1150")
    expect(page.locator(".pager-range")).to_have_text("1151–1250 of 1250")
    expect(page.locator(".pager-newer")).to_be_disabled()
    page.locator(".pager-older").click()
    expect(page.locator(".pager-range")).to_have_text("1051–1150 of 1250")
    expect(titles(page).first).to_have_text("Old 1050")
    page.locator(".pager-newer").click()
    expect(page.locator(".pager-range")).to_have_text("1151–1250 of 1250")
    page.locator(".pager-older").click()
    # A new task brings the page back to the newest, where its row shows.
    add(page, "Brand new")
    expect(page.locator(".pager-range")).to_have_text("1152–1251 of 1251")
    expect(titles(page).last).to_have_text("Brand new")
    # The filter pages too, and starts again from the newest.
    page.goto(leader_url + "/#/completed")
    expect(page.locator(".pager")).to_be_hidden()
    page.goto(leader_url + "/#/active")
    expect(page.locator(".pager-range")).to_have_text("1152–1251 of 1251")
    for _ in range(12):
        page.locator(".pager-older").click()
    expect(page.locator(".pager-range")).to_have_text("1–51 of 1251")
    expect(titles(page).first).to_have_text("Old 0000")
    expect(page.locator(".pager-older")).to_be_disabled()


# ------------------------------------------------------------------------------------ live updates


def test_changes_made_elsewhere_appear_without_a_reload(app: Session, cluster: ProcessCluster) -> None:
    page = app.page
    follower = next(n for n in cluster.nodes if n.url != page.url.split("/#")[0].rstrip("/"))
    task = write("POST", f"{follower.url}/tasks", {"title": "From curl"})
    expect(titles(page)).to_have_text(["From curl"])
    write("PATCH", f"{follower.url}/tasks/{task['id']}", {"completed": True})
    expect(page.locator(".todo-list li.completed")).to_have_count(1)
    write("POST", f"{follower.url}/tasks/batch", {"tasks": [{"title": "b1"}, {"title": "b2"}]})
    expect(titles(page)).to_have_text(["From curl", "b1", "b2"])
    write("DELETE", f"{follower.url}/tasks/{task['id']}")
    expect(titles(page)).to_have_text(["b1", "b2"])


def test_two_pages_see_each_other(open_page: Any, cluster: ProcessCluster, leader_url: str) -> None:
    first, second = open_page(), open_page()
    first.goto(leader_url + "/")
    other = next(n for n in cluster.nodes if n.url != leader_url)
    second.goto(other.url + "/")
    add(first.page, "Typed in the first tab")
    expect(titles(second.page)).to_have_text(["Typed in the first tab"])
    checkbox(second.page, "Typed in the first tab").check()
    expect(first.page.locator(".todo-list li.completed")).to_have_count(1)


# ------------------------------------------------------------------------------- safety, language


def test_a_title_is_text_never_html(app: Session, leader_url: str) -> None:
    page = app.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    evil = "<img src=x onerror=alert(1)>"
    add(page, evil)
    write("POST", f"{leader_url}/tasks", {"title": '<script>alert("x")</script><b>bold</b>'})
    expect(titles(page)).to_have_text([evil, '<script>alert("x")</script><b>bold</b>'])
    expect(page.locator(".todo-list img, .todo-list script, .todo-list b")).to_have_count(0)
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert dialogs == []


def test_the_page_is_served_with_a_strict_content_security_policy(cluster: ProcessCluster) -> None:
    node = cluster.nodes[0]
    status, _, headers = http_raw("GET", f"{node.url}/")
    assert status == 200
    csp = headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in csp
    assert "connect-src 'self' " + " ".join(n.url for n in cluster.nodes) in csp
    assert "unsafe" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


def test_vietnamese_from_the_browser_and_switchable(open_page: Any, leader_url: str) -> None:
    session = open_page(locale="vi-VN")
    page = session.page
    session.goto(leader_url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator(".new-todo")).to_have_attribute("placeholder", "Cần làm gì?")
    add(page, "Học Raft")
    expect(page.locator(".todo-count")).to_have_text("Còn 1 việc")
    expect(page.get_by_role("link", name="Đang làm")).to_be_visible()
    page.get_by_role("button", name="EN", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".todo-count")).to_have_text("1 item left")
    page.reload()  # the choice is remembered
    expect(page.locator(".todo-count")).to_have_text("1 item left")


def test_nothing_overflows_a_360_px_phone(open_page: Any, leader_url: str) -> None:
    write(
        "POST",
        f"{leader_url}/tasks/batch",
        {"tasks": [{"title": "Long: " + "x" * 120}, {"title": "Short"}, {"title": "Ghi chú tiếng Việt"}]},
    )
    session = open_page(viewport=PHONE)
    page = session.page
    session.goto(leader_url + "/")
    expect(page.locator(".todo-list li")).to_have_count(3)
    expect(page.locator(".node")).to_have_count(3)
    page.locator("details.batch summary").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_normal_session_logs_no_console_errors(
    open_page: Any, cluster: ProcessCluster, leader_url: str
) -> None:
    app = open_page()
    page = app.page
    origins: set[str] = set()
    page.on("request", lambda r: origins.add(re.match(r"^[a-z]+://[^/]+", r.url).group(0)))
    app.goto(leader_url + "/")
    add(page, "one", "two")
    checkbox(page, "one").check()
    page.get_by_role("link", name="Completed").click()
    page.get_by_role("link", name="All").click()
    page.get_by_role("button", name="VI", exact=True).click()
    page.get_by_role("button", name="EN", exact=True).click()
    page.locator(".clear-completed").click()
    expect(titles(page)).to_have_text(["two"])
    page.wait_for_timeout(1500)  # a status poll or two
    # The fixture checks the same for every test here.
    assert [e for e in app.errors if not any(n in e for n in NOT_THE_PAGES)] == []
    # Nothing from anywhere but the cluster: no fonts, scripts or images from a third party.
    assert origins <= {n.url for n in cluster.nodes}, origins


# ----------------------------------------------------------------------------------------- helpers


def tasks_on_url(url: str) -> list[dict[str, Any]]:
    status, body, _ = http("GET", f"{url}/tasks")
    assert status == 200, body
    return body["tasks"]


def http_raw(method: str, url: str) -> tuple[int, bytes, dict[str, str]]:
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as resp:
        return resp.status, resp.read(), dict(resp.headers)

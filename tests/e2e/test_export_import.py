"""Export and import on the page of a real three-node cluster: the list is downloaded as a .jsonl
file, cleared, imported back from that file with the keyboard, and comes back equal; a file with a
wrong line is refused with the line's number before anything is sent."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.integration.harness import ProcessCluster
from tests.needs import CHROMIUM

from .conftest import Session, find_leader, http, screenshot, start_cluster, wait_until, write

pytestmark = pytest.mark.needs(CHROMIUM)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessCluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("e2e-export-import"), 3)
    leader = find_leader(cluster)

    def at_version_2() -> bool:
        status, body, _ = http("GET", f"{leader.url}/status")
        return status == 200 and body["cluster_version"] >= 2

    wait_until(at_version_2, 30, "the cluster to run at cluster version 2")
    yield cluster
    cluster.close()


def every_task(url: str) -> list[dict[str, Any]]:
    """Every task, oldest first, confirmed with the leader."""
    tasks: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, page, _ = http("GET", f"{url}/tasks?limit=1000&consistency=strong{cursor}")
        assert status == 200, page
        tasks += page["tasks"]
        if page["next_cursor"] is None:
            return tasks[::-1]
        cursor = f"&cursor={page['next_cursor']}"


def without_seq(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{name: value for name, value in task.items() if name != "seq"} for task in tasks]


def choose_file(page: Any, path: Path) -> None:
    """Open the file picker from the Import button, with the keyboard, and pick ``path``."""
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import…").focus()
        page.keyboard.press("Enter")
    chooser.value.set_files(str(path))


def test_a_list_exported_cleared_and_imported_comes_back_equal(app: Session, leader_url: str, tmp_path: Path):
    page = app.page
    write("POST", f"{leader_url}/tasks/batch", {"tasks": [{"title": f"task {n}"} for n in range(1000)]})
    write("POST", f"{leader_url}/tasks/batch", {"tasks": [{"title": f"more {n}"} for n in range(500)]})
    for task in every_task(leader_url)[::9]:
        write("PATCH", f"{leader_url}/tasks/{task['id']}", {"completed": True})
    before = every_task(leader_url)
    expect(page.locator(".todo-count")).to_contain_text("items left")

    with page.expect_download() as download:
        page.get_by_role("button", name="Export").click()
    assert re.fullmatch(r"todonode-tasks-\d+\.jsonl", download.value.suggested_filename)
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert [json.loads(line) for line in saved.read_text().splitlines()] == before

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(".delete-all").click()
    expect(page.locator(".todo-list li")).to_have_count(0)

    choose_file(page, saved)
    status = page.locator(".import-status")
    expect(status).to_have_text(
        f"Imported {saved.name}: 1500 created, 0 skipped as already present.", timeout=30_000
    )
    expect(page.locator(".import-progress")).to_be_hidden()
    expect(page.locator(".todo-count")).to_contain_text(
        f"{sum(not t['completed'] for t in before)} items left"
    )
    assert without_seq(every_task(leader_url)) == without_seq(before)

    choose_file(page, saved)  # again: every task is there already
    expect(status).to_have_text(f"Imported {saved.name}: 0 created, 1500 skipped as already present.")
    assert len(every_task(leader_url)) == 1500


def test_a_file_with_wrong_lines_is_refused_by_line_and_nothing_is_sent(
    app: Session, leader_url: str, tmp_path: Path
):
    page = app.page
    good = {
        "id": "0b6f3c1e-8a4d-4f7a-9b2c-5d6e7f8a9b0c",
        "title": "fine",
        "completed": False,
        "created_at": "2026-12-01T15:08:26.002Z",
        "updated_at": "2026-12-01T15:08:26.002Z",
    }
    wrong = tmp_path / "wrong.jsonl"
    lines = [
        json.dumps(good),
        json.dumps({**good, "id": "1b6f3c1e-8a4d-4f7a-9b2c-5d6e7f8a9b0c", "title": "a\u202eb"}),
        "not json",
        json.dumps(
            {**good, "id": "2b6f3c1e-8a4d-4f7a-9b2c-5d6e7f8a9b0c", "created_at": "2025-02-29T00:00:00.000Z"}
        ),
    ]
    wrong.write_text("\n".join(lines) + "\n")
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)

    choose_file(page, wrong)
    problems = page.get_by_role("alert").filter(has_text="Line")
    expect(problems.locator("li")).to_have_text(
        ["Line 2: title is not a valid value", "Line 3: not JSON", "Line 4: created_at is not a valid value"]
    )
    expect(page.locator(".import-status")).to_have_text(
        "Nothing was imported: 3 lines of wrong.jsonl are wrong."
    )
    assert sent == [] and every_task(leader_url) == []
    screenshot(page, "import-refused")

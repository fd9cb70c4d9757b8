"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright (the Python
package only; its own browser download is never used), against real clusters started with the
integration harness.

Chromium comes from the system (``apt-get install -y chromium``). Every module here is marked
``needs(CHROMIUM)`` (tests/needs.py): without it its tests are skipped locally, with the reason in the
summary, and fail under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.integration.harness import NodeProcess, ProcessCluster

T = TypeVar("T")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
DOCS = REPO / "docs"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}

# Console errors that say nothing about the page: Chromium aborts requests in flight with this one
# when the machine's network interfaces change (other tests on the machine create and remove network
# namespaces and addresses); the page retries them like any failed request, but a script aborted
# while the page loads needs a reload (Session.goto).
# Likewise Chromium logs every 503 a fetch receives; the cluster answers 503 during an election (a
# loaded machine has stray ones), and the page waits and retries as the answer asks.
NOT_THE_PAGES = ("net::ERR_NETWORK_CHANGED", "status of 503")

# Failover times measured by the tests (seconds from kill -9 to the page showing another node).
SWITCH_TIMES: list[float] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SWITCH_TIMES:
        runs = ", ".join(f"{s * 1000:.0f} ms" for s in SWITCH_TIMES)
        median = statistics.median(SWITCH_TIMES) * 1000
        terminalreporter.write_line(
            f"dashboard failover, kill -9 to page on a live node: {runs}; median {median:.0f} ms"
        )


# ------------------------------------------------------------------------------------------ HTTP


def http(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 5
) -> tuple[int, Any, dict[str, str]]:
    """A JSON request; network errors come back as status 0 (as the harness's Client does)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw
        return exc.code, payload, dict(exc.headers)
    except (OSError, ValueError) as exc:
        return 0, {"client_error": repr(exc)}, {}


def write(method: str, url: str, body: Any = None, timeout: float = 30) -> Any:
    """A write a test needs done: retried through elections (a loaded machine has them) under one
    Idempotency-Key, so a retry never applies it twice. Returns the response body."""
    key = str(uuid.uuid4())

    def attempt() -> Any:
        status, data, _ = http(method, url, body, headers={"Idempotency-Key": key})
        return data if status in (200, 201) else None

    return wait_until(attempt, timeout, f"{method} {url} to succeed", interval=0.2)


def wait_until(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


def tasks_on(node: NodeProcess) -> list[dict[str, Any]] | None:
    """Every task on ``node`` (the lists these tests make fit in one page of 1,000)."""
    status, body, _ = http("GET", f"{node.url}/tasks?limit=1000", timeout=3)
    return body["tasks"] if status == 200 else None


def find_leader(cluster: ProcessCluster, timeout: float = 15, preferred: bool = False) -> NodeProcess:
    """The running node a majority agrees leads (with ``preferred``: once that is the lowest-port
    running node, where leadership settles), and every running node ready (caught up)."""

    def probe() -> NodeProcess | None:
        running = [n for n in cluster.nodes if n.running]
        statuses = [http("GET", f"{n.url}/status", timeout=1) for n in running]
        answers = zip(running, statuses, strict=True)
        leaders = [n for n, (code, s, _) in answers if code == 200 and s["is_leader"]]
        if len(leaders) != 1:
            return None
        leader = leaders[0]
        agree = sum(1 for code, s, _ in statuses if code == 200 and s["leader"] == leader.url)
        if agree * 2 <= cluster.size or (preferred and leader.port != min(n.port for n in running)):
            return None
        ready = all(http("GET", f"{n.url}/ready", timeout=1)[0] == 200 for n in running)
        return leader if ready else None

    return wait_until(probe, timeout, "a leader the running nodes agree on", interval=0.1)


# Slower than the harness's defaults, so that a loaded CI machine holds no stray elections; the
# page's own failover does not depend on them (it notices a dead node by its connection).
TIMINGS = {"heartbeat_ms": 100, "election_timeout_ms": 800, "leader_settle_ms": 1000, "write_wait_ms": 5000}


def start_cluster(root: Path, size: int) -> ProcessCluster:
    cluster = ProcessCluster(root, size, timings=TIMINGS)
    cluster.start_all()
    try:
        find_leader(cluster, timeout=30, preferred=True)
    except AssertionError:
        print(cluster.logs())
        cluster.close()
        raise
    return cluster


# --------------------------------------------------------------------------------------- browser


@dataclass
class Session:
    """A page plus what it logged: console errors and uncaught exceptions."""

    page: Any
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    allow_errors: bool = False  # a test that kills the node a page talks to expects network errors

    def describe(self) -> str:
        """What the page showed, for the report of a failed test."""
        try:
            shown = self.page.evaluate(
                """() => ['#connection', '#readonly-banner', '#error', '#announcer', '.todo-list',
                          '#cluster-summary', '#timeline']
                      .map((s) => `${s}: ${document.querySelector(s)?.innerText.replace(/\\s+/g, ' ')}`)
                      .join('\\n')"""
            )
        except Exception as exc:  # the page may be gone; the report must still print
            shown = f"(page unreadable: {exc})"
        return f"{self.page.url}\n{shown}\nconsole:\n" + "\n".join(self.console[-40:])

    def goto(self, url: str) -> None:
        from playwright.sync_api import expect

        self.page.goto(url)
        connection = self.page.locator("#connection")
        try:
            expect(connection).to_have_attribute("data-state", "connected", timeout=15_000)
        except AssertionError:
            if not any("ERR_NETWORK_CHANGED" in e for e in self.errors):
                raise
            self.page.reload()  # one of its scripts was cut off by a network change on the machine
            expect(connection).to_have_attribute("data-state", "connected", timeout=15_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)  # a loaded 2-core CI machine is slower than a laptop
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


@pytest.fixture
def open_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Session]]:
    """``open_page(viewport=..., locale=...)`` → a Session in a fresh browser context. At the end, any
    console error or page error fails the test, unless the session allowed them."""
    made: list[tuple[Any, Session]] = []

    def make(viewport: dict[str, int] | None = None, locale: str = "en-US", **options: Any) -> Session:
        context = browser.new_context(viewport=viewport or DESKTOP, locale=locale, **options)
        page = context.new_page()
        session = Session(page)
        page.on("console", lambda m: session.console.append(f"{m.type}: {m.text}"))
        page.on("console", lambda m: session.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: session.errors.append(f"uncaught: {e}"))
        made.append((context, session))
        return session

    yield make
    if request.node.stash.get(_FAILED, False):
        for _, session in made:
            print(f"----- page -----\n{session.describe()}")
    problems = [
        e for _, s in made if not s.allow_errors for e in s.errors if not any(n in e for n in NOT_THE_PAGES)
    ]
    for context, _ in made:
        with contextlib.suppress(Exception):  # a test may have closed it already
            context.close()
    assert not problems, f"console errors: {problems}"


# A module's ``cluster`` fixture is the cluster these two reach.
@pytest.fixture
def leader_url(cluster: ProcessCluster) -> str:
    """The leader's URL, with the list emptied."""
    leader = find_leader(cluster)
    write("DELETE", f"{leader.url}/tasks?all=true")
    return leader.url


@pytest.fixture
def app(open_page: Any, leader_url: str) -> Session:
    """A page on the leader, showing the emptied list."""
    session = open_page()
    session.goto(leader_url + "/")
    return session


def screenshot(page: Any, name: str, docs_name: str | None = None, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    # The README's pictures change only on purpose: UPDATE_DOCS_SCREENSHOTS=1 make test.
    if docs_name and os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS / docs_name)
    return path

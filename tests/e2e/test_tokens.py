"""The dashboard on a cluster that needs a token for every read and write, served over https with the
cluster's own CA trusted: the page asks for the token when a node answers 401 (once, however many
requests were refused), keeps it for the tab, sends it on every request, and receives /events with
it, so a change made elsewhere shows up live."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import expect

from tests.integration.harness import ProcessCluster
from tests.needs import CHROMIUM as NEEDS_CHROMIUM

from .conftest import CHROMIUM_ARGS, DESKTOP, TIMINGS, wait_until

pytestmark = pytest.mark.needs(NEEDS_CHROMIUM)

TOKEN = "a-client-token-for-the-page"
# Chromium logs every 401 a fetch receives; the page answers it by asking for the token.
EXPECTED_ERRORS = ("status of 401",)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessCluster]:
    api = {"token": TOKEN, "protect_reads": True}
    cluster = ProcessCluster(tmp_path_factory.mktemp("e2e-tokens"), 3, timings=TIMINGS, api=api, tls=True)
    cluster.start_all()
    try:
        wait_until(lambda: leader_url(cluster), 30, "a leader")
        yield cluster
    finally:
        cluster.close()


def call(cluster: ProcessCluster, method: str, url: str, body: Any = None) -> tuple[int, Any]:
    """A request with the token, trusting the cluster's CA; network errors are status 0."""
    data = None if body is None else json.dumps(body).encode()
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/json",
        "Idempotency-Key": str(uuid.uuid4()),
    }
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(
            request, timeout=5, context=cluster.ssl_context(certificate=None)
        ) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None


def leader_url(cluster: ProcessCluster) -> str | None:
    code, body = call(cluster, "GET", cluster.nodes[0].url + "/cluster/status")
    return body["leader"] if code == 200 else None


def trusted_keys(cluster: ProcessCluster) -> str:
    """The nodes' public keys as Chromium's --ignore-certificate-errors-spki-list takes them: trusting
    exactly the certificates the cluster's CA issued to its members, as importing the CA would."""
    pins = []
    for node in cluster.nodes:
        certificate = x509.load_pem_x509_certificate((cluster.certs_dir / f"{node.id}.crt").read_bytes())
        spki = certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        pins.append(base64.b64encode(hashlib.sha256(spki).digest()).decode())
    return ",".join(pins)


@pytest.fixture(scope="module")
def browser(cluster: ProcessCluster) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=10_000)
    with sync_playwright() as p:
        args = [*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={trusted_keys(cluster)}"]
        chromium = p.chromium.launch(executable_path=shutil.which("chromium"), args=args)
        yield chromium
        chromium.close()


def test_the_page_asks_for_the_token_once_and_sends_it_everywhere_over_https(browser, cluster) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    asked: list[str] = []
    errors: list[str] = []
    sent: list[tuple[str, str | None]] = []  # (path, Authorization) of every request the page made

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept(TOKEN)

    page.on("dialog", answer)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.on(
        "request",
        lambda r: (
            sent.append((r.url.split("/", 3)[3], r.headers.get("authorization")))
            if r.resource_type in ("fetch", "xhr")
            else None
        ),
    )
    try:
        node = cluster.nodes[1]
        page.goto(node.url + "/")
        expect(page.locator("#connection")).to_have_attribute("data-state", "connected", timeout=20_000)
        assert asked == ["This cluster needs a token to show or change the list. Token:"]
        assert page.evaluate("sessionStorage.getItem('todonode.token')") == TOKEN

        page.locator(".new-todo").fill("Added from the page")
        page.locator(".new-todo").press("Enter")
        expect(page.locator(".todo-list li")).to_have_count(1)
        wait_until(lambda: any(t["title"] == "Added from the page" for t in tasks(cluster)), 10, "the write")

        # Written elsewhere: it reaches the page through /events, which needs the token too.
        assert call(cluster, "POST", cluster.nodes[2].url + "/tasks", {"title": "Added elsewhere"})[0] == 201
        expect(page.locator(".todo-list li", has_text="Added elsewhere")).to_have_count(1)

        asked_at = next(i for i, (path, auth) in enumerate(sent) if auth is None and path.startswith("tasks"))
        after = sent[asked_at + 1 :]
        assert any(path.startswith("events") for path, _ in after)
        assert [path for path, auth in after if auth != f"Bearer {TOKEN}"] == []
        assert len(asked) == 1
        assert [e for e in errors if not any(known in e for known in EXPECTED_ERRORS)] == []
    finally:
        context.close()


def tasks(cluster: ProcessCluster) -> list[dict[str, Any]]:
    code, body = call(cluster, "GET", cluster.nodes[0].url + "/tasks")
    return body["tasks"] if code == 200 else []

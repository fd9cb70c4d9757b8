"""The dashboard's pure modules (static/js) under Node's own test runner: each ``tests/js/*.test.mjs``
runs in ``node --test``, and every JS test in it is reported here as a subtest of that file.

Node reads the page's ``.js`` files as ES modules because of ``static/js/package.json``; the browser
needs no such hint (index.html loads them with ``type="module"``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.needs import NODEJS

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
JS_TEST_FILES = sorted(HERE.glob("*.test.mjs"))
# One result line of TAP as node prints it: "ok 3 - name", "not ok 4 - name", "ok 5 - name # SKIP why".
RESULT = re.compile(
    r"^(?P<indent> *)(?P<status>not ok|ok) \d+ - (?P<name>.*?)"
    r"(?: # (?P<directive>SKIP|TODO)\b *(?P<why>.*))?$"
)


@dataclass(frozen=True)
class JsResult:
    name: str
    passed: bool
    skipped: bool  # marked SKIP or TODO: reported, never failed
    why: str  # the reason given with SKIP or TODO
    details: str  # node's diagnostics for the test (for a failure: the error, expected, actual, stack)


def parse_tap(output: str) -> list[JsResult]:
    """Every test result in node's TAP output, with the YAML block that follows it."""
    lines = output.splitlines()
    results = []
    for i, line in enumerate(lines):
        match = RESULT.match(line)
        if not match:
            continue
        end = f"{match['indent']}  ..."
        details = []
        for following in lines[i + 1 :]:
            if following == end:
                break
            details.append(following)
        results.append(
            JsResult(
                name=match["name"],
                passed=match["status"] == "ok",
                skipped=match["directive"] is not None,
                why=match["why"] or "",
                details="\n".join(details),
            )
        )
    return results


@pytest.fixture
def node() -> str:
    NODEJS.check()
    path = shutil.which("node")
    assert path is not None
    return path


def test_the_js_test_files_are_found() -> None:
    assert JS_TEST_FILES, f"no *.test.mjs in {HERE}"


@pytest.mark.parametrize("js_file", JS_TEST_FILES, ids=lambda path: path.name)
def test_js_units(js_file: Path, node: str, subtests: pytest.Subtests) -> None:
    run = subprocess.run(
        [node, "--test", "--test-reporter=tap", str(js_file)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = f"{run.stdout}\n{run.stderr}".strip()
    # Older nodes report the file itself as one more test around its tests.
    results = [r for r in parse_tap(run.stdout) if r.name != str(js_file)]
    for result in results:
        with subtests.test(msg=result.name):
            if result.skipped:
                why = result.why or "skipped in the JS test"
                if os.environ.get("CI") == "true":  # CI runs every test, as tests/needs.py requires
                    pytest.fail(f"CI=true and a JS test was skipped: {why}", pytrace=False)
                pytest.skip(why)
            if not result.passed:
                pytest.fail(result.details, pytrace=False)
    if not results:
        pytest.fail(f"no JS test ran in {js_file.name}:\n{output}", pytrace=False)
    if run.returncode != 0:
        pytest.fail(f"node --test {js_file.name} failed:\n{output}", pytrace=False)

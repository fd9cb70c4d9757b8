"""How long the demo page takes to show a new leader after "Stop" is clicked on the leader's card.

    .venv/bin/python scripts/measure_new_leader.py [--runs 5] [--slow 10]

Starts the demo supervisor (scripts/cluster.py --demo) with the shipped timings on free ports in a
temporary directory, opens the page in Chromium (Debian's, as tests/e2e does) on a follower, and for
each run: waits for leadership to settle on the lowest port, clicks Stop on the leader's card, and
measures, in the page, from the click to the moment the cluster summary names another leader. The
stopped node is restarted between runs. Prints every run and the median. A measurement, not a test:
it asserts nothing about the figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.integration.supervised import Supervised, act, leader_of  # noqa: E402

TIMINGS = ("tick_ms", "heartbeat_ms", "election_timeout_ms", "leader_settle_ms", "write_wait_ms")
SIZE = 4

# Runs in the page: the time from the click on the leader's Stop button to the first moment the summary
# names another leader, polled every animation frame.
MEASURE = """([leader]) => new Promise((resolve) => {
  const summary = document.querySelector('#cluster-summary');
  const button = document.querySelector(`.nodes [data-node="${leader}"] [data-action="stop"]`);
  const clicked = performance.now();
  const look = () => {
    const shown = summary.textContent.match(/^Leader (\\S+)/);
    if (shown && shown[1] !== leader) resolve(performance.now() - clicked);
    else requestAnimationFrame(look);
  };
  button.click();
  look();
})"""


# The page is ready to be measured: its summary names the leader, and the leader's card has its buttons.
SHOWS_LEADER = """(id) => document.querySelector('#cluster-summary').textContent.startsWith(`Leader ${id} `)
  && document.querySelector(`.nodes [data-node="${id}"] [data-action="stop"]`)"""


def shipped_timings() -> dict[str, int]:
    cluster = tomllib.loads((REPO / "configs" / "node4000.toml").read_text())["cluster"]
    return {key: cluster[key] for key in TIMINGS}


def measure(runs: int, slow: int) -> list[float]:
    settle_s = 60 * slow  # elections, restarts and the hand-over back to the lowest port, slowed down
    with tempfile.TemporaryDirectory(prefix="measure-demo-") as root:
        demo = Supervised(Path(root), SIZE, demo=True, timings=shipped_timings(), slow=slow)
        try:
            demo.wait_running()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                times = []
                for run in range(runs):
                    leader = leader_of(demo, preferred=True, timeout=settle_s)
                    leader_id = demo.cluster.nodes[leader].id
                    here = (leader + 1) % SIZE
                    page.goto(demo.url(here) + "/")
                    page.wait_for_function(SHOWS_LEADER, arg=leader_id, timeout=settle_s * 1000)
                    ms = page.evaluate(MEASURE, [leader_id])
                    times.append(ms)
                    print(f"run {run + 1}: {ms:.0f} ms", flush=True)
                    act(demo, here, leader, "restart")
                    demo.wait_running()
                browser.close()
            return times
        finally:
            demo.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--slow", type=int, default=1, help="as make demo SLOW=N")
    args = parser.parse_args()
    times = measure(args.runs, args.slow)
    runs = ", ".join(f"{t:.0f}" for t in times)
    print(
        f"SLOW={args.slow}: stop on the leader to a new leader on the page, ms: {runs}; "
        f"median {statistics.median(times):.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run nodes in the foreground under one supervisor, each log line prefixed with its node.

    python scripts/cluster.py configs/node4000.toml configs/node4001.toml ...   (make cluster, make node)
    python scripts/cluster.py --demo [--slow 10] configs/node*.toml              (make demo [SLOW=10])

Ctrl-C (or SIGTERM, or closing the terminal) stops every node gracefully and waits for it. A node that
dies (say you kill it to watch a failover) is reported and the others keep running.

The nodes die with the supervisor, however it ends: each is started through a few lines of Python
that ask Linux to SIGKILL it when the supervisor dies (PR_SET_PDEATHSIG, kept across the exec into
todonode), then check that the supervisor had not already died, then become the node. So even
`kill -9` of the supervisor leaves no node running on without it.

Each node's PID is in a file next to its data directory, `data/node4000.pid` (for the demo,
`data/demo/node4000.pid`), while it runs: `kill -9 $(cat data/node4000.pid)` stops that node and
nothing else. (A pattern such as `pgrep -f node4000.toml` would match this supervisor too: its command
line names every config.)

With --demo the nodes run in demo mode, and this supervisor injects faults into them when the page (or
curl) asks any node: see scripts/demo_control.py.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from supervisor import Child, Supervisor, say

from todonode.config import ConfigError, load_config

COLOURS = ["\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[31m"]
RESET = "\033[0m"


def children_for(configs: list[Path]) -> list[Child]:
    colour = sys.stdout.isatty()
    children = []
    for n, path in enumerate(configs):
        config = load_config(path)
        name = config.node.id
        prefix = f"{COLOURS[n % len(COLOURS)]}{name:>9}{RESET} |" if colour else f"{name:>9} |"
        pid_file = config.node.data_dir.with_name(f"{config.node.data_dir.name}.pid")
        children.append(Child(name, config.self_url, path, pid_file, prefix))
    return children


async def supervise(configs: list[Path], *, demo_dir: Path | None, slow: int) -> int:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stopping.set)
    control = None
    if demo_dir is not None:
        import demo_control  # beside this file; needs aiohttp, which only the demo uses here

        configs, socket = demo_control.write_configs(configs, demo_dir, slow)
    children = children_for(configs)
    supervisor = Supervisor(children, demo=demo_dir is not None)
    if demo_dir is not None:
        control = demo_control.Control(supervisor, slow, socket)
        await control.start()
    changed = asyncio.Event()

    def notify() -> None:
        changed.set()
        if control is not None:
            control.state_changed()

    supervisor.on_change = notify
    try:
        for child in children:
            await supervisor.start(child)
            say(f"started {child.id} (pid {child.pid}, in {child.pid_file}): dashboard at {child.url}/")
        say("Ctrl-C stops them all. To stop one node: kill -9 $(cat <its pid file>)")
        if control is not None:
            say(control.banner())
        while not stopping.is_set() and not supervisor.all_down():
            changed.clear()
            waits = [asyncio.ensure_future(e.wait()) for e in (stopping, changed)]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for wait in waits:
                wait.cancel()
    finally:
        await supervisor.stop_all()
        if control is not None:
            await control.close()
    say("all nodes stopped")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Run todonode nodes under one supervisor.")
    parser.add_argument("configs", nargs="+", type=Path, help="one config file per node")
    parser.add_argument("--demo", action="store_true", help="the classroom cluster: faults from the page")
    parser.add_argument("--slow", type=int, default=1, help="with --demo: multiply every timing by this")
    parser.add_argument("--demo-dir", type=Path, default=Path("data/demo"), help="with --demo: its files")
    args = parser.parse_args(argv)
    if args.slow < 1:
        parser.error("--slow must be 1 or more")
    demo_dir = args.demo_dir if args.demo else None
    try:
        return asyncio.run(supervise(args.configs, demo_dir=demo_dir, slow=args.slow))
    except ConfigError as exc:
        print(f"cluster.py: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

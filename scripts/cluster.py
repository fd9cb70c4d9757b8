"""Run nodes of configs/ in the foreground, each log line prefixed with its node.

    python scripts/cluster.py configs/node4000.toml configs/node4001.toml ...

Ctrl-C (or SIGTERM) stops every node gracefully and waits for it. A node that dies (say you
`kill -9` it to watch a failover) is reported and the others keep running; start it again from
another terminal with `make node PORT=4001`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

COLOURS = ["\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[31m"]
RESET = "\033[0m"


def node_name(config: str) -> str:
    match = re.search(r"port\s*=\s*(\d+)", Path(config).read_text())
    return f"node{match.group(1)}" if match else Path(config).stem


def scheme(config: str) -> str:
    """https for the configs of `make cluster TLS=1`, which have a [tls] section."""
    return "https" if re.search(r"^\[tls\]", Path(config).read_text(), re.MULTILINE) else "http"


def pump(proc: subprocess.Popen[bytes], prefix: str, lock: threading.Lock) -> None:
    assert proc.stdout is not None
    for raw in proc.stdout:
        with lock:
            sys.stdout.write(f"{prefix} {raw.decode(errors='replace')}")
            sys.stdout.flush()


def main(configs: list[str]) -> int:
    todonode = str(Path(sys.executable).with_name("todonode"))
    colour = sys.stdout.isatty()
    lock = threading.Lock()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for n, config in enumerate(configs):
        name = node_name(config)
        proc = subprocess.Popen(
            [todonode, "--config", config], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the nodes in order
        )
        procs[name] = proc
        prefix = f"{COLOURS[n % len(COLOURS)]}{name:>9}{RESET} |" if colour else f"{name:>9} |"
        threading.Thread(target=pump, args=(proc, prefix, lock), daemon=True).start()
        port = name.removeprefix("node")
        url = f"{scheme(config)}://127.0.0.1:{port}/"
        print(f"started {name} (pid {proc.pid}): dashboard at {url}", flush=True)
    print("Ctrl-C stops them all. To kill one and watch the failover: kill -9 <pid>", flush=True)

    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    reported: set[str] = set()
    while not stopping.wait(0.5):
        for name, proc in procs.items():
            if proc.poll() is not None and name not in reported:
                reported.add(name)
                print(f"*** {name} exited with status {proc.returncode}; the others keep running", flush=True)
        if len(reported) == len(procs):
            break
    for proc in procs.values():
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    print("all nodes stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

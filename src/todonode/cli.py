"""The ``todonode`` command: ``todonode --config configs/node4000.toml`` runs one node.

Problems a user can fix are reported in one line, never a traceback: a bad config exits 2 naming the
file, key and problem; a port in use or a data directory held by another process exits 1. SIGTERM
and SIGINT stop the node gracefully: hand leadership over (a planned restart costs no election
timeout), stop accepting, finish in-flight requests, close the log, exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import socket
import sys
from importlib.metadata import PackageNotFoundError, version

import orjson
from aiohttp import web

from .api.keys import NODE
from .app import create_app
from .config import Config, ConfigError, load_config
from .storage import DataDirLocked, WalCorruption

log = logging.getLogger("todonode")
SHUTDOWN_TIMEOUT_S = 5.0


def package_version() -> str:
    try:
        return version("todonode")
    except PackageNotFoundError:
        return "unknown"


class JsonLineFormatter(logging.Formatter):
    def __init__(self, node_id: str):
        super().__init__()
        self.node_id = node_id

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "node": self.node_id,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def setup_logging(level: str, fmt: str, node_id: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonLineFormatter(node_id))
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)-7s {node_id} %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="todonode", description="Run one node of a todonode cluster.")
    parser.add_argument("--config", "-c", required=True, help="the node's TOML config file")
    parser.add_argument("--version", action="version", version=f"todonode {package_version()}")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", default="text", choices=["text", "json"])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"todonode: {exc}", file=sys.stderr)
        return 2
    setup_logging(args.log_level, args.log_format, config.node.id)
    try:
        asyncio.run(serve(config))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(
                f"todonode: port {config.node.port} on {config.node.host} is already in use "
                "(is another node running with this config?)",
                file=sys.stderr,
            )
        else:
            print(f"todonode: {exc}", file=sys.stderr)
        return 1
    except (DataDirLocked, WalCorruption, NodeFailed) as exc:
        print(f"todonode: {exc}", file=sys.stderr)
        return 1
    return 0


class NodeFailed(Exception):
    """The node stopped itself after an internal failure (logged with its traceback)."""


def bind(host: str, port: int) -> socket.socket:
    """Bind before anything else starts, so a port in use is reported before the node touches its
    data directory or its peers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


async def serve(config: Config) -> None:
    sock = bind(config.node.host, config.node.port)
    runner = web.AppRunner(create_app(config), handle_signals=False, access_log=None)
    try:
        await runner.setup()
        site = web.SockSite(runner, sock, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await site.start()
        log.info(
            "todonode %s serving %s (dashboard at %s/)", package_version(), config.self_url, config.self_url
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        node = runner.app[NODE]
        await asyncio.wait(
            [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(node.failed.wait())],
            return_when=asyncio.FIRST_COMPLETED,
        )
        if node.failed.is_set():
            raise NodeFailed("the node failed and stopped; see the log above")
        log.info("stopping: handing over leadership if leading, then finishing in-flight requests")
        await node.hand_over_leadership()
    finally:
        await runner.cleanup()
        sock.close()
    log.info("stopped")


if __name__ == "__main__":
    sys.exit(main())

"""The ``todonode`` command.

* ``todonode --config configs/node4000.toml`` (or ``todonode run --config ...``) runs one node.
* ``todonode tasks list|add|done|edit|rm|clear-completed`` and ``todonode cluster status|transfer-leader``
  talk to a running cluster (``client.py``); ``todonode tasks export|import`` move the list out of one
  and into one (``task_files.py``).
* ``todonode certs init`` makes certificates for TLS (``certs.py``).
* ``todonode backup --out FILE`` and ``todonode restore FILE --config ...`` (``backup_cli.py``).
* ``todonode recover --force-new-cluster`` makes one stopped node the only member of a new cluster, the
  last resort when a majority is gone (``recover_cli.py``).

Problems a user can fix are reported in one line, never a traceback: a bad config exits 2 naming the
file, key and problem; a port in use, or a data directory held by another process or open to other
users, exits 1. SIGTERM and SIGINT stop the node gracefully: hand leadership over (a planned restart
costs no election timeout), stop accepting, finish in-flight requests, close the log, exit 0.

A data directory in a storage format this todonode cannot read, or a log that has moved the cluster
to a cluster version it cannot run, exits 2 with one line naming both versions (docs/architecture.md,
"Versions").

The log is one line per event, as text or as JSON lines (``--log-format json``). It never holds a request
body or a secret: aiohttp's report of a malformed request, which quotes the offending bytes (a header
could be the Authorization one), becomes one line naming the problem.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import socket
import ssl
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

from . import backup_cli, certs, client, recover_cli
from .config import Config, ConfigError, load_config
from .versions import CLUSTER_VERSIONS, STORAGE_FORMAT, ClusterTooNew, StorageTooNew, release

if TYPE_CHECKING:
    from aiohttp import web

    from .node import Node
    from .storage.member_file import Membership

# The server's modules (aiohttp, the app, storage) are imported only to run a node: the client commands
# start in a fraction of the time without them.

log = logging.getLogger("todonode")
SHUTDOWN_TIMEOUT_S = 5.0


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
    handler.addFilter(_summarize_malformed_requests)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _summarize_malformed_requests(record: logging.LogRecord) -> bool:
    """aiohttp logs a request it cannot parse as an error with a traceback quoting the bad bytes: a
    client's mistake (or a fuzzer's), and the bytes may hold a secret. Keep one line with the reason."""
    if record.name != "aiohttp.server" or not record.exc_info:
        return True
    from aiohttp.http_exceptions import HttpProcessingError

    exc = record.exc_info[1]
    if isinstance(exc, HttpProcessingError):
        reason = str(exc.message).split(":", 1)[0].splitlines()[0] if exc.message else "unreadable"
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else "a client"
        record.msg = "refused a malformed HTTP request from %s (%d: %s)"
        record.args = (remote, exc.code, reason)
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.INFO, "INFO"
    return True


COMMANDS = ("run", "tasks", "cluster", "certs", "backup", "restore", "recover")
_LOG_LEVELS = ["debug", "info", "warning", "error"]


def _node_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--config", "-c", required=required, help="the node's TOML config file")
    parser.add_argument("--log-level", default="info", choices=_LOG_LEVELS)
    parser.add_argument("--log-format", default="text", choices=["text", "json"], help="json: JSON lines")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """``todonode [run] --config FILE`` runs a node (the form without ``run`` is the original one);
    ``todonode tasks ...`` and ``todonode cluster ...`` are the client."""
    argv = sys.argv[1:] if argv is None else argv
    version = version_line()
    if argv and argv[0] in COMMANDS:
        parser = argparse.ArgumentParser(prog="todonode", description="A replicated todo list.")
        parser.add_argument("--version", action="version", version=version)
        commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
        _node_options(commands.add_parser("run", help="run one node"), required=True)
        client.add_commands(commands)
        certs.add_commands(commands)
        backup_cli.add_commands(commands)
        recover_cli.add_commands(commands)
        return parser.parse_args(argv)
    parser = argparse.ArgumentParser(
        prog="todonode",
        description="Run one node of a todonode cluster.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="other commands (add --help to any of them):\n"
        "  todonode run --config FILE                  the same as above\n"
        "  todonode tasks list|add|done|edit|rm|clear-completed|export|import\n"
        "  todonode cluster status|transfer-leader NODE\n"
        "  todonode certs init --out DIR NAME=HOST[,HOST...] ...\n"
        "  todonode backup --out FILE                  a backup of the cluster's tasks\n"
        "  todonode restore FILE --config FILE         a new cluster from a backup\n"
        "  todonode recover --force-new-cluster --config FILE   last resort: a new cluster of one",
    )
    parser.add_argument("--version", action="version", version=version)
    _node_options(parser, required=True)
    args = parser.parse_args(argv)
    args.command = "run"
    return args


def version_line() -> str:
    """What ``todonode --version`` prints: the release, and the formats it reads and runs."""
    return (
        f"todonode {release()} (reads storage formats 1 to {STORAGE_FORMAT}; runs cluster versions "
        f"{CLUSTER_VERSIONS.start} to {CLUSTER_VERSIONS.stop - 1})"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "certs":
        return certs.run(args)
    if args.command == "restore":
        return backup_cli.restore(args)
    if args.command == "recover":
        return recover_cli.run(args)
    if args.command != "run":
        return client.run(args)
    from .node.disk import DataDirExposed
    from .node.joining import JoinRefused, start_over
    from .storage import DataDirLocked, VersionFileDamaged, WalCorruption
    from .storage.member_file import MemberFileDamaged

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"todonode: {exc}", file=sys.stderr)
        return 2
    setup_logging(args.log_level, args.log_format, config.node.id)
    try:
        loop_factory = event_loop_factory(config.node.event_loop)
    except ImportError:
        print(f"todonode: {config.path}: node.event_loop: uvloop is not installed", file=sys.stderr)
        return 2
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve(config))
    except Rejoined as exc:
        start_over(config.node.data_dir, exc.old_id, exc.membership)
        os.execv(sys.executable, sys.orig_argv)  # the same command, in this process: the same PID
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"todonode: {exc.strerror} (is another node running with this config?)", file=sys.stderr)
        else:
            print(f"todonode: {exc}", file=sys.stderr)
        return 1
    except (StorageTooNew, ClusterTooNew) as exc:
        print(f"todonode: {exc}", file=sys.stderr)
        return 2
    except (
        DataDirLocked,
        DataDirExposed,
        WalCorruption,
        VersionFileDamaged,
        NodeFailed,
        JoinRefused,
        MemberFileDamaged,
    ) as exc:
        print(f"todonode: {exc}", file=sys.stderr)
        return 1
    return 0


class NodeFailed(Exception):
    """The node stopped itself after an internal failure (logged with its traceback)."""


class Rejoined(Exception):
    """The node was removed and added back under a new id: it starts over as that member."""

    def __init__(self, old_id: str, membership: Membership):
        super().__init__(f"{old_id} rejoined as {membership.member_id}")
        self.old_id, self.membership = old_id, membership


def bind(host: str, port: int) -> socket.socket:
    """Bind before anything else starts, so a port in use is reported before the node touches its
    data directory or its peers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(exc.errno, f"port {port} on {host} is already in use") from None
        raise
    sock.setblocking(False)
    return sock


def event_loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop runs the same node on a third less CPU per write (bench/); None: asyncio's own loop.
    Raises ImportError when uvloop was asked for by name and is not installed."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise
        return None
    return uvloop.new_event_loop


async def serve(config: Config) -> None:
    from aiohttp import web

    from .api.connections import GuardedSite, fit_open_files
    from .api.keys import NODE
    from .app import create_app

    sock = bind(config.node.host, config.node.port)
    peer_sock = None if config.node.peer_port is None else bind(config.node.host, config.node.peer_port)
    config = fit_open_files(config)
    runner = web.AppRunner(create_app(config), handle_signals=False, access_log=None)
    runners = [runner]
    try:
        await runner.setup()
        context = _client_tls(config)
        await GuardedSite(runner, sock, shutdown_timeout=SHUTDOWN_TIMEOUT_S, ssl_context=context).start()
        if peer_sock is not None:
            runners.insert(0, await _serve_peers(config, runner.app[NODE], peer_sock))
        log.info(
            "todonode %s serving %s (dashboard at %s/; event loop %s)",
            release(),
            config.self_url,
            config.self_url,
            type(asyncio.get_running_loop()).__module__.split(".")[0],
        )
        _log_security(config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        node = runner.app[NODE]
        await asyncio.wait(
            [asyncio.ensure_future(event.wait()) for event in (stop, node.failed, node.restart)],
            return_when=asyncio.FIRST_COMPLETED,
        )
        if isinstance(node.failure, ClusterTooNew):
            raise node.failure
        if node.failed.is_set():
            raise NodeFailed("the node failed and stopped; see the log above")
        if node.rejoined is not None:
            raise Rejoined(node.id, node.rejoined)
        log.info("stopping: handing over leadership if leading, then finishing in-flight requests")
        await node.hand_over_leadership()
    finally:
        for each in runners:  # the peer listener first: the node stops with the client listener's app
            await each.cleanup()
        sock.close()
        if peer_sock is not None:
            peer_sock.close()
    log.info("stopped")


def _client_tls(config: Config) -> ssl.SSLContext | None:
    from . import tls

    return tls.server_context(config.tls, require_certificate=False) if config.tls.enabled else None


async def _serve_peers(config: Config, node: Node, sock: socket.socket) -> web.AppRunner:
    """The peer listener (node.peer_port): the peer routes alone; with TLS, a member's certificate
    required."""
    from aiohttp import web

    from . import tls
    from .app import create_peer_app

    runner = web.AppRunner(create_peer_app(config, node), handle_signals=False, access_log=None)
    await runner.setup()
    context = tls.server_context(config.tls, require_certificate=True) if config.tls.enabled else None
    await web.SockSite(runner, sock, shutdown_timeout=SHUTDOWN_TIMEOUT_S, ssl_context=context).start()
    log.info("peers reach this node at %s", config.peer_urls[config.node.id])
    return runner


def _log_security(config: Config) -> None:
    if config.plaintext_beyond_loopback:
        log.warning(
            "node.insecure_plaintext: serving plain HTTP on %s, beyond loopback; anyone on that network "
            "can read the tasks and the peers' traffic",
            config.node.host,
        )
    elif config.tls.enabled and not config.tls.mutual:
        log.info("TLS without tls.ca_file: peers prove who they are with the cluster secret")


if __name__ == "__main__":
    sys.exit(main())

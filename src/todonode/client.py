"""The ``todonode tasks …`` and ``todonode cluster …`` commands: the HTTP API from a terminal.

A small synchronous client (the standard library's urllib; nothing to start, nothing to clean up). It
talks to the node given by ``--url`` (or ``TODONODE_URL``), or to the nodes of a config file given by
``--config``: then, when one is down, it tries the next. Every failure is one line on stderr that says
what happened and what to do, and the exit status is 1 (2 for a bad command line or config).

Writes carry an ``Idempotency-Key``, so the client may retry them (connection lost, 503 with
``Retry-After``) without ever applying one twice. Tasks may be named by a unique prefix of their id, as
``tasks list`` shows them.

Over ``https://`` the node's certificate is checked against ``--ca`` (or the config's ``tls.ca_file``, or
the system's CAs); ``--cert``/``--key`` (or, with ``--config``, the node's own certificate) are presented
as the cluster's credentials. Administration sends the admin token if one is known, else relies on that
certificate, and sends the cluster secret only when it has neither: a credential goes only where it is
needed.

Everything printed that came from a node is made safe for a terminal first (``printable``): a control
character, a bidirectional override or any other invisible format character in a title (or a
message) is shown as its ``\\uXXXX`` escape, never sent to the terminal raw, where it could move the
cursor, rewrite the screen or make a line read as other text than it holds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import ssl
import sys
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .config import SECRET_ENV, ConfigError, load_config

URL_ENV = "TODONODE_URL"
TOKEN_ENV = "TODONODE_TOKEN"
ADMIN_TOKEN_ENV = "TODONODE_ADMIN_TOKEN"
DEFAULT_URL = "http://127.0.0.1:4000"
SHORT_ID = 8
RETRIES = 3
PAGE = 1000  # the largest page a node serves


class ClientError(Exception):
    """A failure to report in one line (``str()``), exit status 1; ``code`` is the node's error code
    when a node refused the request."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientError(ClientError):
    """A failure that may pass: no node answered, or the one that did asked to retry later."""


class UsageError(ClientError):
    """A bad command line or config, exit status 2."""


@dataclass
class Client:
    urls: list[str]  # the node to ask first, then the others to try when it is down
    token: str | None = None  # the client token, sent as a bearer token
    # For administration: the admin token or the cluster secret; None when a certificate does instead.
    admin: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    tls: ssl.SSLContext | None = None  # for https:// nodes: whom to trust, and what to present

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        admin: bool = False,
        retry: bool = False,
        key: str | None = None,
    ) -> Any:
        """The JSON answer of ``method path``, or ClientError (TransientError when it may pass). A GET,
        or a write with ``retry`` (it gets an Idempotency-Key for that, ``key`` if given), is tried
        again after a lost connection or a 503 that says when."""
        retry = retry or method == "GET"
        headers = self._headers(admin)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if retry and method != "GET":
            headers["Idempotency-Key"] = key or str(uuid.uuid4())
        attempts = RETRIES if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._send_to_any(method, path, data, headers)
            except _Retryable as exc:
                if attempt == attempts:
                    raise TransientError(str(exc)) from None
                time.sleep(exc.pause)
        raise AssertionError("unreachable")

    def _headers(self, admin: bool) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        credential = self.admin if admin else self.token
        if credential:
            headers["Authorization"] = f"Bearer {credential}"
        return headers

    def download(self, path: str, receive: Callable[[str, Any], None]) -> None:
        """``GET path`` from the first node that answers, its response handed to ``receive(url,
        response)`` to read as it arrives (a file-like object with ``headers``); ClientError as
        ``call`` raises it. A connection lost mid-way is a ClientError too: the caller starts over."""
        headers = self._headers(admin=False)
        refused: list[str] = []
        for url in self.urls:
            request = urllib.request.Request(url + path, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout, context=self.tls) as response:
                    receive(url, response)
                    return
            except urllib.error.HTTPError as exc:
                error = _http_error(url, exc)
                raise error if isinstance(error, ClientError) else TransientError(str(error)) from None
            except urllib.error.URLError as exc:
                refused.append(f"{url} ({_reason(exc.reason)})")
            except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
                raise TransientError(f"{url}: the download broke off ({_reason(exc)})") from None
        raise TransientError(f"cannot reach {'; '.join(refused)}: is the node running?")

    def _send_to_any(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> Any:
        refused: list[str] = []
        for url in self.urls:
            try:
                return self._send(url, method, path, data, headers)
            except _Unreachable as exc:
                refused.append(f"{url} ({exc})")
        tried = "; ".join(refused)
        hint = (
            "is the node running? Start one with `todonode --config <file>`, or name another with --url"
            if len(self.urls) == 1
            else "are the nodes running? Start them with `make cluster`"
        )
        raise TransientError(f"cannot reach {tried}: {hint}")

    def _send(self, url: str, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> Any:
        request = urllib.request.Request(url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.tls) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _http_error(url, exc) from None
        except urllib.error.URLError as exc:
            raise _Unreachable(_reason(exc.reason)) from None
        except TimeoutError:
            raise _Unreachable(f"no answer within {self.timeout:g} s") from None
        except (ConnectionError, OSError) as exc:
            raise _Retryable(f"{url}: the connection failed ({_reason(exc)})", pause=0.5) from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise ClientError(f"{url}{path} did not answer JSON; is it a todonode node?") from None


class _Unreachable(Exception):
    """Nothing answered at that URL: the next node may."""


class _Retryable(Exception):
    def __init__(self, message: str, pause: float):
        super().__init__(message)
        self.pause = pause


def _reason(reason: Any) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, socket.gaierror):
        return "unknown host"
    return str(getattr(reason, "strerror", None) or reason)


def _http_error(url: str, exc: urllib.error.HTTPError) -> Exception:
    try:
        body = json.loads(exc.read() or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict) or "message" not in body:
        return ClientError(f"{url} answered HTTP {exc.code} {exc.reason}")
    code = body.get("error", "error")
    message = f"{body['message']} ({code}, HTTP {exc.code} from {url})"
    if exc.code == 503 and code in ("no_leader", "unavailable", "overloaded"):
        retry_after = exc.headers.get("Retry-After", "1")
        return _Retryable(message, pause=min(5.0, float(retry_after) if retry_after.isdigit() else 1.0))
    if code == "unauthorized":
        message += f"; pass --config with the node's config, or --token / {TOKEN_ENV}"
    if code == "forbidden":
        message += f"; pass --admin-token / {ADMIN_TOKEN_ENV}, or --config with the node's config"
    return ClientError(message, code=code)


# ================================================================================== the commands


def common_options() -> argparse.ArgumentParser:
    """The options every command that talks to a node takes: which node, credentials, TLS."""
    common = argparse.ArgumentParser(add_help=False)
    target = common.add_argument_group("which node")
    target.add_argument("--url", help=f"a node's URL (default: ${URL_ENV} or {DEFAULT_URL})")
    target.add_argument("--config", "-c", help="a node's config file: its URL, token and secret")
    target.add_argument("--token", help=f"the client token, if the nodes need one (default: ${TOKEN_ENV})")
    target.add_argument("--admin-token", help=f"the admin token, to administer (default: ${ADMIN_TOKEN_ENV})")
    tls = common.add_argument_group("TLS (https:// nodes)")
    tls.add_argument("--ca", help="the CA that signed the nodes' certificates (default: the config's)")
    tls.add_argument("--cert", help="a client certificate from that CA: the cluster's credentials")
    tls.add_argument("--key", help="the key of --cert")
    target.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an answer")
    target.add_argument("--json", action="store_true", help="print the API's JSON answer")
    return common


def add_commands(subparsers: Any) -> None:
    """``tasks`` and ``cluster`` with their subcommands, on the ``todonode`` parser's subparsers."""
    common = common_options()

    tasks = subparsers.add_parser("tasks", help="list and change tasks").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    listing = tasks.add_parser("list", parents=[common], help="the tasks, newest first")
    shown = listing.add_mutually_exclusive_group()
    shown.add_argument("--active", action="store_true", help="only tasks not completed")
    shown.add_argument("--completed", action="store_true", help="only completed tasks")
    listing.set_defaults(run=_list)
    add = tasks.add_parser("add", parents=[common], help="add tasks: each argument is one title")
    add.add_argument("titles", nargs="+", metavar="TITLE")
    add.set_defaults(run=_add)
    done = tasks.add_parser("done", parents=[common], help="mark a task completed")
    done.add_argument("id", help="the task's id, or a unique prefix of it")
    done.add_argument("--undo", action="store_true", help="mark it active again")
    done.set_defaults(run=_done)
    edit = tasks.add_parser("edit", parents=[common], help="change a task's title")
    edit.add_argument("id", help="the task's id, or a unique prefix of it")
    edit.add_argument("title")
    edit.set_defaults(run=_edit)
    remove = tasks.add_parser("rm", parents=[common], help="delete a task")
    remove.add_argument("id", help="the task's id, or a unique prefix of it")
    remove.set_defaults(run=_remove)
    clear = tasks.add_parser("clear-completed", parents=[common], help="delete every completed task")
    clear.set_defaults(run=_clear_completed)
    from . import task_files  # it builds on this module's client

    task_files.add_commands(tasks, common)

    cluster = subparsers.add_parser("cluster", help="the nodes and the leadership").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    status = cluster.add_parser("status", parents=[common], help="a table of the nodes")
    status.set_defaults(run=_cluster_status)
    transfer = cluster.add_parser(
        "transfer-leader", parents=[common], help="make NODE the leader (needs the secret or token)"
    )
    transfer.add_argument("node", metavar="NODE", help="the node's id (node4001) or URL")
    transfer.set_defaults(run=_transfer_leader)
    from . import membership_client  # it builds on this module's client

    membership_client.add_commands(cluster, common)


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    """Run a parsed ``tasks``/``cluster`` command; errors are one line on stderr."""
    try:
        client = _client(args)
        args.run(client, args, lambda text: out(printable(text)))
    except UsageError as exc:
        print(f"todonode: {escaped(str(exc))}", file=sys.stderr)
        return 2
    except ClientError as exc:
        print(f"todonode: {escaped(str(exc))}", file=sys.stderr)
        return 1
    return 0


# Invisible characters a terminal shows as nothing, or obeys: controls, format characters (bidi
# overrides among them), line and paragraph separators, lone surrogates.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# Format characters that only join what is around them, as in emoji sequences (👩‍💻) and many scripts.
_JOINERS = frozenset({"\u200c", "\u200d"})


def printable(text: str) -> str:
    """``text`` with every character a terminal must not receive raw written as its JSON escape
    (``\\u0085``; a pair of escapes beyond the BMP), so JSON stays JSON. Line breaks between lines are
    kept: ``text`` may be several lines of our own making."""
    return "\n".join(map(escaped, text.split("\n")))


def escaped(text: str) -> str:
    """``text`` on one line, every character a terminal must not receive raw escaped (see printable)."""
    return text if text.isprintable() else "".join(map(_shown, text))


def _shown(char: str) -> str:
    if char in _JOINERS or unicodedata.category(char) not in _UNPRINTABLE:
        return char
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _client(args: argparse.Namespace) -> Client:
    token = args.token or os.environ.get(TOKEN_ENV) or None
    admin_token = args.admin_token or os.environ.get(ADMIN_TOKEN_ENV) or None
    secret = os.environ.get(SECRET_ENV) or None
    ca, cert, key = args.ca, args.cert, args.key
    if args.config:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        first = args.url.rstrip("/") if args.url else config.self_url
        urls = [first, *(url for url in config.cluster.nodes if url != first)]
        token, admin_token = token or config.api.token, admin_token or config.api.admin_token
        secret = secret or config.cluster.secret
        ca = ca or config.tls.ca_file
        if config.tls.mutual and cert is None:  # the node's own certificate: its CA will know it
            cert, key = config.tls.cert_file, config.tls.key_file
    else:
        url = (args.url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"--url must be a node's URL like {DEFAULT_URL}, got {url!r}")
        urls = [url]
    context = _tls(ca, cert, key)
    certified = context is not None and cert is not None
    admin = admin_token or (None if certified else secret)
    return Client(urls, token, admin, args.timeout, context)


def _tls(ca: str | os.PathLike[str] | None, cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """The context for https:// nodes, or None (the system's CAs, no certificate) when nothing is given."""
    if (cert is None) != (key is None):
        raise UsageError("--cert and --key go together")
    if ca is None and cert is None:
        return None
    try:
        context = ssl.create_default_context(cafile=ca)
        if cert is not None:
            context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise UsageError(f"cannot use --ca {ca} / --cert {cert} / --key {key}: {reason}") from None
    return context


def _print_json(out: Callable[[str], None], value: Any) -> None:
    out(json.dumps(value, indent=2, ensure_ascii=False))


def _task_line(task: dict[str, Any]) -> str:
    mark = "[x]" if task["completed"] else "[ ]"
    return f"{escaped(task['id'][:SHORT_ID])}  {mark} {escaped(task['title'])}"


def _all_tasks(client: Client, query: str = "") -> list[dict[str, Any]]:
    """Every task (with ``query``, e.g. ``completed=true``), newest first, a page at a time."""
    tasks: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.call(
            "GET",
            f"/tasks?limit={PAGE}" + (f"&{query}" if query else "") + (f"&cursor={cursor}" if cursor else ""),
        )
        tasks += page["tasks"]
        cursor = page.get("next_cursor")
        if cursor is None:
            return tasks


def _list(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    query = "completed=true" if args.completed else "completed=false" if args.active else ""
    tasks = _all_tasks(client, query)
    if args.json:
        _print_json(out, tasks)
        return
    for task in tasks:
        out(_task_line(task))
    done = sum(task["completed"] for task in tasks)
    out(f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}, {done} completed" if tasks else "no tasks")


def _add(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    if len(args.titles) == 1:
        created = [client.call("POST", "/tasks", {"title": args.titles[0]}, retry=True)]
    else:
        body = {"tasks": [{"title": title} for title in args.titles]}
        created = client.call("POST", "/tasks/batch", body, retry=True)["tasks"]
    if args.json:
        _print_json(out, created)
        return
    for task in created:
        out("added " + _task_line(task))


def _resolve(client: Client, given: str) -> str:
    """The full id of the task whose id is ``given`` or starts with it (at least 4 characters)."""
    try:
        return str(client.call("GET", f"/tasks/{_quote(given)}")["id"])
    except ClientError:
        pass  # not a whole id (or not there): look for it as a prefix
    tasks = _all_tasks(client)
    matches = [task["id"] for task in tasks if len(given) >= 4 and task["id"].startswith(given)]
    if len(matches) == 1:
        return str(matches[0])
    if not matches:
        raise ClientError(f"no task with an id starting {given!r}; `todonode tasks list` shows them")
    raise ClientError(f"{len(matches)} tasks have ids starting {given!r}; give more of the id")


def _change(client: Client, args: argparse.Namespace, out: Callable[[str], None], body: Any) -> None:
    task = client.call("PATCH", f"/tasks/{_quote(_resolve(client, args.id))}", body, retry=True)
    _print_json(out, task) if args.json else out(_task_line(task))


def _done(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    _change(client, args, out, {"completed": not args.undo})


def _edit(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    _change(client, args, out, {"title": args.title})


def _remove(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    task_id = _resolve(client, args.id)
    answer = client.call("DELETE", f"/tasks/{_quote(task_id)}", retry=True)
    _print_json(out, answer) if args.json else out(f"deleted {task_id}")


def _clear_completed(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    answer = client.call("DELETE", "/tasks?completed=true", retry=True)
    n = answer["deleted"]
    _print_json(out, answer) if args.json else out(f"deleted {n} completed task{'s' if n != 1 else ''}")


def _cluster_status(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    status = client.call("GET", "/cluster/status")
    if args.json:
        _print_json(out, status)
        return
    leader = status.get("leader_id") or "none"
    view = "" if status.get("view") == "leader" else " (this node's partial view: the leader did not answer)"
    out(f"leader {leader}, term {status['term']}, commit index {status['commit_index']}{view}")
    rows = [("NODE", "URL", "ROLE", "REACHABLE", "MATCH", "LAG", "LAST CONTACT")]
    for node in status["nodes"]:
        contact = node.get("last_contact_ms")
        rows.append(
            (
                node["id"] + (" *" if node["id"] == status.get("current_node_id") else ""),
                node["url"],
                node["role"],
                "yes" if node["reachable"] else "no",
                _cell(node.get("match_index")),
                _cell(node.get("lag")),
                "-" if contact is None else f"{contact} ms",
            )
        )
    for line in _table(rows):
        out(line)
    out("* the node that answered")


def _transfer_leader(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    target = args.node
    if "://" in target:  # a URL: its member id comes from the cluster's own table
        nodes = client.call("GET", "/cluster/status")["nodes"]
        ids = [node["id"] for node in nodes if node["url"] == target.rstrip("/")]
        if not ids:
            raise ClientError(f"{target} is not a member; `todonode cluster status` lists them")
        target = ids[0]
    answer = client.call("POST", "/cluster/transfer-leader", {"node": target}, admin=True)
    if args.json:
        _print_json(out, answer)
        return
    verb = "already leads" if answer["status"] == "already_leader" else "leads now"
    out(f"{answer['leader']} {verb} (term {answer['term']})")
    if answer.get("note"):
        out(f"note: {answer['note']}")


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    rows = [[escaped(cell) for cell in row] for row in rows]  # one line each, whatever a node said
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _quote(task_id: str) -> str:
    return urllib.parse.quote(task_id, safe="")

"""``todonode tasks export`` and ``todonode tasks import FILE``: the list as a file of JSON Lines, out
of a cluster and into one (docs/api.md#export-and-import).

Export writes what ``GET /tasks/export`` streams into ``FILE.tmp`` beside the file, flushes it to disk,
then renames it over the file: the file is the whole export or is left as it was, never half of one.

Import checks every line of the file first, with the very types the node checks a request with
(``api/models.py``) and the node's own limits (``/openapi.json`` publishes them), and sends nothing
while any line is wrong: each wrong line is reported with its number and what is wrong. Then it sends
the tasks in chunks within the node's batch and body limits. The node skips every id it already
holds, so a chunk whose answer was lost is simply sent again, while a leader is being elected or a
node restarts, and a whole import cut short is run again from the start, any time later, without
duplicates (docs/guarantees.md#import-is-idempotent).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .api import models
from .client import Client, ClientError, TransientError, UsageError, escaped
from .errors import Validation

COPY_BYTES = 64 * 1024
BODY_SHARE = 0.9  # of the node's largest body a chunk may fill: room for the JSON around the tasks
MAX_REPORTED = 20  # wrong lines named; the rest are counted
RETRY_PAUSE_S = 1.0


def add_commands(tasks: Any, common: argparse.ArgumentParser) -> None:
    """``export`` and ``import`` on the ``tasks`` command's subparsers."""
    export = tasks.add_parser("export", parents=[common], help="every task, as JSON Lines")
    export.add_argument("--out", "-o", help="the file to write (default: standard output)")
    export.add_argument(
        "--local", action="store_true", help="this node's tasks as they are, without asking the leader"
    )
    export.set_defaults(run=_export)
    load = tasks.add_parser("import", parents=[common], help="add the tasks of an export (JSON Lines)")
    load.add_argument("file", metavar="FILE", help="JSON Lines, as `tasks export` writes them")
    load.add_argument("--chunk", type=int, help="tasks per request (default: the node's largest batch)")
    load.add_argument(
        "--retry-for", type=float, default=120.0, help="seconds to retry a chunk the cluster cannot take yet"
    )
    load.set_defaults(run=_import)


# ============================================================================================= export


def _export(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    path = "/tasks/export" + ("" if args.local else "?consistency=strong")
    progress = Progress("exported", unit="bytes")
    if args.out is None:
        client.download(path, lambda url, response: _copy(response, sys.stdout.buffer, progress))
        sys.stdout.flush()
        progress.done(f"exported {progress.count:,} bytes")
        return
    target = Path(args.out)
    temporary = target.with_name(target.name + ".tmp")
    index = ""
    try:
        with open(temporary, "wb") as file:

            def receive(url: str, response: Any) -> None:
                nonlocal index
                index = response.headers.get("X-Todonode-Export-Index", "?")
                _copy(response, file, progress)

            client.download(path, receive)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        raise ClientError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        temporary.unlink(missing_ok=True)
    _sync_directory(target.parent)
    tasks = _count_lines(target)
    progress.done(f"exported {tasks:,} task{'s' if tasks != 1 else ''} at log index {index} to {target}")


def _copy(source: IO[bytes], sink: IO[bytes], progress: Progress) -> None:
    while chunk := source.read(COPY_BYTES):
        sink.write(chunk)
        progress.advance(len(chunk))


def _sync_directory(directory: Path) -> None:
    """Make the rename durable: it lives in the directory."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _count_lines(path: Path) -> int:
    with open(path, "rb") as file:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(COPY_BYTES), b""))


# ============================================================================================= import


@dataclass(frozen=True, slots=True)
class Limits:
    """What a node accepts in one request, as its ``/openapi.json`` states it."""

    max_title_chars: int
    max_batch: int
    max_body_bytes: int

    @classmethod
    def of(cls, client: Client) -> Limits:
        document = client.call("GET", "/openapi.json")
        try:
            limits = document["info"]["x-todonode-limits"]
            return cls(limits["max_title_chars"], limits["max_batch"], limits["max_body_bytes"])
        except (TypeError, KeyError):
            raise ClientError(
                "the node does not say what it accepts in one request (its /openapi.json has no "
                "x-todonode-limits): it runs a release without import"
            ) from None


def _import(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    if args.chunk is not None and args.chunk < 1:
        raise UsageError("--chunk must be at least 1")
    source = Path(args.file)
    limits = Limits.of(client)
    tasks = read_tasks(source, limits)
    size = min(args.chunk or limits.max_batch, limits.max_batch)
    progress = Progress("imported", total=len(tasks))
    created = skipped = 0
    for chunk in chunks(tasks, size, int(limits.max_body_bytes * BODY_SHARE)):
        answer = send_chunk(client, chunk, args.retry_for)
        created, skipped = created + answer["created"], skipped + answer["skipped"]
        progress.advance(len(chunk))
    progress.done(
        f"imported {escaped(str(source))}: {created:,} task{'s' if created != 1 else ''} created, "
        f"{skipped:,} skipped as already present"
    )


def read_tasks(source: Path, limits: Limits) -> list[dict[str, Any]]:
    """The tasks of every line of ``source``, checked as the node checks them (``seq``, which the
    importing list gives anew, dropped), or ClientError naming each wrong line and what is wrong."""
    types = models.request_types(limits.max_title_chars, limits.max_batch)
    tasks: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        with open(source, "rb") as file:
            for number, line in enumerate(file, start=1):
                try:
                    tasks.append(_task_of(line, types))
                except _WrongLine as exc:
                    problems.append(f"{escaped(str(source))}:{number}: {exc}")
    except OSError as exc:
        raise ClientError(f"cannot read {source}: {exc.strerror or exc}") from None
    if problems:
        for problem in problems[:MAX_REPORTED]:
            print(problem, file=sys.stderr)
        more = f" ({len(problems) - MAX_REPORTED} more not shown)" if len(problems) > MAX_REPORTED else ""
        raise ClientError(
            f"nothing was imported: {len(problems)} wrong line(s) in {escaped(str(source))}{more}; "
            "correct them and run the import again"
        )
    if not tasks:
        raise ClientError(f"nothing to import: {escaped(str(source))} holds no tasks")
    return tasks


class _WrongLine(Exception):
    """What is wrong with one line."""


def _task_of(line: bytes, types: models.RequestTypes) -> dict[str, Any]:
    try:
        task = json.loads(line)
    except ValueError as exc:
        raise _WrongLine(f"not JSON ({exc})") from None
    if not isinstance(task, dict):
        raise _WrongLine("not a JSON object: each line is one task")
    seq = task.pop("seq", 1)
    if type(seq) is not int or seq < 1:
        raise _WrongLine("seq must be a whole number, at least 1")
    try:
        return types.imported_tasks({"tasks": [task]})[0]
    except Validation as exc:
        # The node's message names the field as "tasks[0].title": here it is the line's "title".
        raise _WrongLine(exc.message.replace("tasks[0].", "")) from None


def chunks(tasks: list[dict[str, Any]], size: int, max_bytes: int) -> Iterator[list[dict[str, Any]]]:
    """``tasks`` in order, cut into chunks of at most ``size`` tasks and ``max_bytes`` as the body the
    client sends (a task larger than that alone goes alone: the node says if it is too large)."""
    empty = len(json.dumps({"tasks": []}))
    chunk: list[dict[str, Any]] = []
    length = empty
    for task in tasks:
        task_bytes = len(json.dumps(task)) + len(", ")  # ASCII: json.dumps escapes everything else
        if chunk and (len(chunk) == size or length + task_bytes > max_bytes):
            yield chunk
            chunk, length = [], empty
        chunk.append(task)
        length += task_bytes
    if chunk:
        yield chunk


def send_chunk(client: Client, chunk: list[dict[str, Any]], retry_for: float) -> dict[str, Any]:
    """The node's answer to one chunk, sent again while the cluster cannot take it for now: a retry
    harms nothing, since the node skips the ids it holds. One key for every attempt, so that the
    answer to a chunk applied before its answer was lost counts it as created, not skipped."""
    body, key = {"tasks": chunk}, str(uuid.uuid4())
    deadline = time.monotonic() + retry_for
    while True:
        try:
            answer: dict[str, Any] = client.call("POST", "/tasks/import", body, retry=True, key=key)
            return answer
        except ClientError as exc:
            for_now = isinstance(exc, TransientError) or exc.code in ("no_quorum", "storage_unavailable")
            if not for_now:
                raise
            if time.monotonic() >= deadline:
                again = "run the same import again to finish it: nothing is duplicated"
                raise ClientError(f"{exc}; {again}") from None
        time.sleep(RETRY_PAUSE_S)


# =========================================================================================== progress


class Progress:
    """How far a long job is, on stderr: a line redrawn as it goes when stderr is a terminal, and a
    summary line always."""

    def __init__(self, verb: str, *, total: int | None = None, unit: str = "tasks") -> None:
        self.verb, self.total, self.unit = verb, total, unit
        self.count = 0
        self._shown = 0.0
        self._live = sys.stderr.isatty()

    def advance(self, amount: int) -> None:
        self.count += amount
        now = time.monotonic()
        if self._live and now - self._shown >= 0.1:
            self._shown = now
            of = f" of {self.total:,}" if self.total is not None else ""
            sys.stderr.write(f"\r{self.verb} {self.count:,}{of} {self.unit}")
            sys.stderr.flush()

    def done(self, summary: str) -> None:
        print(("\r\033[K" if self._live else "") + summary, file=sys.stderr)

"""``GET /tasks/export`` and ``POST /tasks/import``: a list that can leave a cluster and come into
another (docs/api.md#export-and-import).

An export is every task, every field, one JSON object a line (JSON Lines), oldest first, as the tasks
stood at one applied index: the task container is copied at that index (state.py keeps stored tasks
unchanged, so the copy is O(tasks) pointers), then encoded and sent a chunk at a time while the node
goes on applying. Each chunk waits its turn of the event loop as a page of ``GET /tasks`` does, so a
million-task export never holds up the heartbeats; a client that goes away ends the work at the next
chunk.

An import is a write like the others (tasks.py proposes it), of the ``import_tasks`` command: it
creates the tasks given, with their ids, and skips every id the list already holds, so a chunk may be
sent any number of times, by a client that lost the answer or by a whole import run again a week
later (docs/guarantees.md#import-is-idempotent). It is proposed only at ``IMPORT_FROM`` or above: a
node of the previous release would apply it as an unknown command, and its list would part from the
others'.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable

import orjson
from aiohttp import web

from .. import state
from ..cluster_state import IDENTITY_VERSION
from ..errors import ClusterVersionTooOld
from ..quota import Growth
from ..state import Command, Idempotency, Task
from . import headers
from .access import require_client_token
from .body import read_json
from .keys import NODE
from .tasks import PAGE_TURNS, ReadOptions, request_types, write

NDJSON = "application/x-ndjson"
EXPORT_CHUNK = 1000  # tasks encoded per turn of the event loop: about a millisecond
IMPORT_FROM = IDENTITY_VERSION  # the first cluster version whose nodes all know import_tasks


async def export_tasks(request: web.Request) -> web.StreamResponse:
    require_client_token(request, write=False)
    options = ReadOptions.parse(request)
    node = request.app[NODE]
    await options.catch_up(node)
    index, tasks = node.applied, node.state.snapshot()["tasks"]  # no await between: one index
    response = web.StreamResponse(
        headers={
            "Content-Type": NDJSON,
            "Content-Disposition": f'attachment; filename="todonode-tasks-{index}.jsonl"',
            headers.NODE: node.id,
            headers.APPLIED_INDEX: str(index),
            headers.EXPORT_INDEX: str(index),
        }
    )
    await response.prepare(request)
    try:
        for chunk in _chunks(tasks.values()):
            async with request.app[PAGE_TURNS]:
                data = b"".join(map(_line, chunk))
                await asyncio.sleep(0)  # the turn ends with the loop's
            await response.write(data)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away: nothing more to send, nobody to tell
    return response


def _chunks(tasks: Iterable[Task]) -> Iterable[list[Task]]:
    iterator = iter(tasks)
    while chunk := list(itertools.islice(iterator, EXPORT_CHUNK)):
        yield chunk


def _line(task: Task) -> bytes:
    return orjson.dumps(task, option=orjson.OPT_APPEND_NEWLINE)


async def import_tasks(request: web.Request) -> web.Response:
    api = require_client_token(request, write=True)
    body = await read_json(request, api)
    tasks = request_types(api).imported_tasks(body.value)
    node = request.app[NODE]
    # Checked where the request arrives and again on the leader it is forwarded to, which proposes it.
    # Cluster versions only grow, and a version applied here is committed: no voter can run the
    # previous release any more.
    version = node.status().versions.cluster_version
    if version < IMPORT_FROM:
        raise ClusterVersionTooOld(
            f"import needs cluster version {IMPORT_FROM}; this node has the cluster at {version} until "
            "every voter runs a release that has it (GET /cluster/status shows each node's versions)"
        )
    # Only the tasks not there yet take room: a chunk that adds none is never refused for want of it.
    new = [task["title"] for task in tasks if node.state.get(task["id"]) is None]

    def build(at: str, idempotency: Idempotency | None) -> Command:
        return state.import_command(tasks, at=at, idempotency=idempotency)

    return await write(request, body.raw, build, Growth.new_tasks(new) if new else None)

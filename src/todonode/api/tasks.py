"""The task endpoints (docs/api.md): reads answered from this node's applied state, writes ordered by
Raft.
This module never changes the task state itself: every change is a command through ``Node.propose``.

One write, as the handlers below do it:

1. Read and check everything the client sent (body, ``If-Match``, ``Idempotency-Key``, query): a bad
   request never reaches the log.
2. A key this node already holds in the replicated idempotency table is answered from it: the first
   response replayed, or 422 when the key came with a different request.
3. The command is built with fresh task ids and this node's clock, so every replica applies exactly the
   same thing (docs/guarantees.md), and proposed. The result of applying it is the response, errors included.
4. A follower forwards the request to the leader and relays its answer (forwarding.py); or, with
   ``forward_writes = false`` or ``?redirect=true``, answers 421 ``not_leader`` with the leader's URL.
   A forwarded write whose fate is unknown (the leader vanished mid-request) is retried only when an
   ``Idempotency-Key`` makes that safe.

All of it within one deadline, ``cluster.write_wait_ms`` from the request's arrival (deadline.py): a
write waits that long for a new leader, across every retry, and no longer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from .. import state
from ..config import ApiSection
from ..deadline import Deadline
from ..errors import ApiError, NoLeader, NotFound, NotLeader, Unavailable, Validation
from ..node import MAX_PENDING_WRITES, Node
from ..quota import Growth, Usage
from ..state import Command, Idempotency, Result, Task
from . import headers, models
from .access import require_client_token
from .body import read_json
from .errors import json_response
from .forwarding import FORWARDER, NotApplied, OutcomeUnknown, forwarded, while_leading
from .keys import CONFIG, NODE
from .metrics import METRICS

RETRY_PAUSE_S = 0.05  # between attempts while a failed-over leader is being replaced
# How far beyond its own log a min_index may be and still be waited for: a leader never has more
# writes in flight than this, so an index further out is not coming within a read's wait.
FUTURE_INDEX_SLACK = MAX_PENDING_WRITES
FORWARD_SLACK_S = 3.0  # on top of write_wait_ms, which the leader may spend waiting for an election

BuildCommand = Callable[[str, Idempotency | None], Command]  # (at, idempotency) -> command


# ============================================================================================== reads


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """``?consistency=local|strong`` and ``?min_index=N``: how current the state a read sees must be."""

    strong: bool
    min_index: int | None

    @classmethod
    def parse(cls, request: web.Request) -> ReadOptions:
        consistency = models.CONSISTENCY.parse(request.query)
        return cls(consistency == "strong", models.MIN_INDEX.parse(request.query))

    async def catch_up(self, node: Node) -> None:
        """Wait until this node's state is as current as asked; 503 when it cannot be within the bound.
        An index the node could not reach within the bound whatever happened is refused at once."""
        if self.min_index is not None and self.min_index > node.last_index + FUTURE_INDEX_SLACK:
            raise Validation(
                f"min_index {self.min_index} is beyond this node's log (last index {node.last_index}) by "
                f"more than {FUTURE_INDEX_SLACK}, more than it could apply while a read waits: pass an index "
                "a node answered in X-Todonode-Applied-Index",
                field="min_index",
            )
        deadline = Deadline(node.config.cluster.write_wait_ms / 1000)
        if self.strong:
            await node.read_barrier(deadline)  # a follower confirms the leader's commit index with it
        if self.min_index is not None and not await node.wait_applied(self.min_index, deadline):
            raise Unavailable(
                f"this node has applied up to index {node.applied}, not yet {self.min_index}; retry "
                "shortly or ask the leader",
                retry_after=1,
                applied_index=node.applied,
            )


# One page is cut from the state and encoded per turn of the event loop. asyncio runs every callback
# that is ready before it looks at its timers again, so twenty large reads arriving together would
# otherwise run back to back, tens of milliseconds with no heartbeat. A read holds this semaphore
# until the loop has gone round once after its page, so the next page waits for the next turn: the
# loop never runs more than one page (about a millisecond) between looks at the clock that keeps the
# leader.
PAGE_TURNS = web.AppKey("page_turns", asyncio.Semaphore)


def setup(app: web.Application) -> None:
    app[PAGE_TURNS] = asyncio.Semaphore(1)


async def list_tasks(request: web.Request) -> web.Response:
    require_client_token(request, write=False)
    completed = models.COMPLETED.parse(request.query)
    limit = models.LIMIT.parse(request.query) or models.DEFAULT_PAGE
    cursor = models.CURSOR.parse(request.query)
    options = ReadOptions.parse(request)
    node = request.app[NODE]
    await options.catch_up(node)
    # A page is at most MAX_PAGE tasks and looks at no more than state.SCAN_BUDGET: cutting and
    # encoding it takes about a millisecond, however long the list.
    async with request.app[PAGE_TURNS]:
        tasks, next_cursor = node.state.list_tasks(completed, limit, cursor)
        response = json_response({"tasks": tasks, "next_cursor": next_cursor})
        await asyncio.sleep(0)  # the turn ends with the loop's
    return response


async def get_task(request: web.Request) -> web.Response:
    require_client_token(request, write=False)
    options = ReadOptions.parse(request)
    node = request.app[NODE]
    await options.catch_up(node)
    task_id = request.match_info["id"]
    task = node.state.get(task_id)
    if task is None:
        raise NotFound(f"No task with id {task_id}; it may have been deleted.", id=task_id)
    return json_response(task, headers={"ETag": models.etag(task.version)})


# ============================================================================================= writes


async def create_task(request: web.Request) -> web.Response:
    api = require_client_token(request, write=True)
    body = await read_json(request, api)
    title = request_types(api).create_title(body.value)

    def build(at: str, idempotency: Idempotency | None) -> Command:
        return state.create_command(title, task_id=_new_id(), at=at, idempotency=idempotency)

    return await write(request, body.raw, build, Growth.new_tasks([title]), single_task=True)


async def create_batch(request: web.Request) -> web.Response:
    api = require_client_token(request, write=True)
    body = await read_json(request, api)
    titles = request_types(api).batch_titles(body.value)

    def build(at: str, idempotency: Idempotency | None) -> Command:
        ids = [_new_id() for _ in titles]
        return state.batch_create_command(titles, task_ids=ids, at=at, idempotency=idempotency)

    return await write(request, body.raw, build, Growth.new_tasks(titles))


async def update_task(request: web.Request) -> web.Response:
    """PUT and PATCH alike: a partial update of ``title`` and/or ``completed``."""
    api = require_client_token(request, write=True)
    task_id = request.match_info["id"]
    body = await read_json(request, api)
    changes = request_types(api).update_changes(body.value)
    if_version = models.IF_MATCH.parse(request.headers)

    def build(at: str, idempotency: Idempotency | None) -> Command:
        return state.update_command(task_id, changes, at=at, if_version=if_version, idempotency=idempotency)

    return await write(request, body.raw, build, Growth.changes(changes), single_task=True)


async def delete_task(request: web.Request) -> web.Response:
    require_client_token(request, write=True)
    task_id = request.match_info["id"]
    if_version = models.IF_MATCH.parse(request.headers)

    def build(at: str, idempotency: Idempotency | None) -> Command:
        return state.delete_command(task_id, at=at, if_version=if_version, idempotency=idempotency)

    return await write(request, b"", build, growth=None)


async def delete_many(request: web.Request) -> web.Response:
    """``?completed=true`` clears the completed tasks, ``?all=true`` deletes every task. A bare
    ``DELETE /tasks`` is refused: deleting everything must be asked for by name."""
    require_client_token(request, write=True)
    everything = models.DELETE_WHICH.parse(request.query) == "all"

    def build(at: str, idempotency: Idempotency | None) -> Command:
        if everything:
            return state.delete_all_command(at=at, idempotency=idempotency)
        return state.clear_completed_command(at=at, idempotency=idempotency)

    return await write(request, b"", build, growth=None)


async def set_all_completed(request: web.Request) -> web.Response:
    api = require_client_token(request, write=True)
    body = await read_json(request, api)
    completed = request_types(api).set_all_completed(body.value)

    def build(at: str, idempotency: Idempotency | None) -> Command:
        return state.set_all_completed_command(completed, at=at, idempotency=idempotency)

    return await write(request, body.raw, build, Growth())


# ================================================================================= proposing a write


async def write(
    request: web.Request, raw: bytes, build: BuildCommand, growth: Growth | None, *, single_task: bool = False
) -> web.Response:
    """Propose the command ``build`` makes, here or through the leader, and answer with its result.
    ``growth``: what the write may add to the list, checked against the quotas (quota.py); None for a
    delete, which is never refused for want of room.

    Attempts repeat while the leader is being replaced, until the write's deadline (a write waits for
    the new leader rather than failing), but never when a repeat could apply the write twice. Once an
    attempt's outcome is unknown, the write's is too: a later refusal (no leader, no quorum) says only
    that the retry was not taken, so the answer stays "unknown", never a refusal the client would
    read as "nothing was written".
    """
    node = request.app[NODE]
    idempotency = _idempotency(request, raw)
    if idempotency is not None:
        known = node.state.lookup_idempotent(idempotency.key, idempotency.fingerprint)
        if known is not None:
            _measure(request, None, replayed=known.replayed)
            return _result_response(known, node.leader_id, single_task)
    if growth is not None:
        Usage.of(node.state, node.config.storage).require_room(growth)
    attempts = _Attempts(request, raw, build, idempotency, single_task)
    try:
        return await attempts.run()
    except ApiError as exc:
        if attempts.uncertain and exc.status >= 500 and not isinstance(exc, Unavailable):
            raise _still_unknown(exc.message) from None
        raise


class _Attempts:
    """One write's attempts, within one deadline; ``uncertain`` once any may have been applied."""

    def __init__(
        self,
        request: web.Request,
        raw: bytes,
        build: BuildCommand,
        idempotency: Idempotency | None,
        single_task: bool,
    ) -> None:
        self.request, self.raw, self.build = request, raw, build
        self.idempotency, self.single_task = idempotency, single_task
        self.uncertain = False
        self.node = request.app[NODE]
        self.deadline = Deadline(self.node.config.cluster.write_wait_ms / 1000)

    async def run(self) -> web.Response:
        request, node, deadline = self.request, self.node, self.deadline
        started = time.perf_counter()
        redirect = models.REDIRECT.parse(request.query) or not _api(request).forward_writes
        while True:
            try:
                result = await node.propose(self.build(_now(), self.idempotency), deadline)
                assert result is not None, "a task command always has a result"
                _measure(request, time.perf_counter() - started, replayed=result.replayed)
                return _result_response(result, node.id, self.single_task)
            except NotLeader as exc:
                if redirect:
                    return _redirect_response(request, exc)
                if forwarded(request):
                    raise  # a forwarded request is never forwarded again: no loops between nodes
                try:
                    response = await _forward(request, self.raw, exc.leader, deadline)
                except NotApplied as failure:
                    last_error: ApiError = NoLeader(
                        f"the leader cannot be reached ({failure}) and no other has taken over yet; "
                        "retry shortly",
                        retry_after=1,
                    )
                except OutcomeUnknown as failure:
                    last_error = self._unknown(
                        Unavailable(
                            f"the leader stopped answering before confirming the write ({failure}); it "
                            "may or may not have been applied. Retry with an Idempotency-Key header to "
                            "make retries safe",
                            retry_after=1,
                        )
                    )
                else:
                    if self.uncertain and response.status >= 500:
                        raise _still_unknown(f"the leader answered {response.status}")
                    _measure(request, time.perf_counter() - started, forwarded=True)
                    return response
            except Unavailable as exc:
                last_error = self._unknown(exc)
            if deadline.expired:
                raise last_error
            await deadline.pause(RETRY_PAUSE_S)

    def _unknown(self, error: Unavailable) -> Unavailable:
        """An attempt whose outcome is unknown: only the key makes another one harmless."""
        if self.idempotency is None:
            raise error
        self.uncertain = True
        return error


def _still_unknown(why: str) -> Unavailable:
    return Unavailable(
        f"an earlier attempt of this write may have been applied, and the retry was not taken ({why}); "
        "its outcome is unknown. Retry with the same Idempotency-Key: it is applied at most once",
        retry_after=1,
    )


def _measure(
    request: web.Request, seconds: float | None, *, forwarded: bool = False, replayed: bool = False
) -> None:
    """Report a write to the node's metrics, when it has them (a forwarded replay counts on the leader)."""
    metrics = request.app.get(METRICS)
    if metrics is None:
        return
    if seconds is not None:
        metrics.write(seconds, forwarded=forwarded)
    if replayed:
        metrics.idempotent_replays.inc()


def _result_response(result: Result, leader_id: str | None, single_task: bool) -> web.Response:
    """A command's result as the response: errors (status >= 400) already have the JSON error shape."""
    sent = {}
    if leader_id is not None:
        sent[headers.LEADER] = leader_id
    if result.replayed:
        sent[headers.REPLAYED] = "true"
    if single_task and isinstance(result.body, Task):
        sent["ETag"] = models.etag(result.body.version)
    return json_response(result.body, result.status, sent)


def _redirect_response(request: web.Request, exc: NotLeader) -> web.Response:
    location = {} if exc.leader is None else {"Location": exc.leader + request.raw_path}
    return json_response(exc.body(), exc.status, location)


async def _forward(
    request: web.Request, raw: bytes, leader_url: str | None, deadline: Deadline
) -> web.Response:
    """Send the request to the leader and relay the answer; then wait (within the deadline) until this
    node has applied what the leader had, so that the client reads its own write here too."""
    if leader_url is None:
        raise NotApplied("its address is unknown")
    node = request.app[NODE]
    cluster = node.config.cluster
    timeout = aiohttp.ClientTimeout(
        total=cluster.write_wait_ms / 1000 + FORWARD_SLACK_S,
        sock_connect=cluster.election_timeout_ms / 1000,
    )
    exchange = request.app[FORWARDER].forward(request, raw, leader_url, node.id, timeout)
    relayed = await while_leading(leader_url, lambda: node.leader_url, cluster.heartbeat_ms / 1000, exchange)
    if relayed.status < 300 and relayed.applied_index is not None:
        await node.wait_applied(relayed.applied_index, deadline)
    return relayed.response(node.id)


# ============================================================================ reading the request


def _api(request: web.Request) -> ApiSection:
    return request.app[CONFIG].api


def request_types(api: ApiSection) -> models.RequestTypes:
    return models.request_types(api.max_title_chars, api.max_batch)


def _idempotency(request: web.Request, raw: bytes) -> Idempotency | None:
    # Printable ASCII only: the key travels in the log as JSON text, and header bytes that are not UTF-8
    # arrive as surrogate escapes, which JSON cannot carry. Every key generator makes ASCII anyway.
    key = models.IDEMPOTENCY_KEY.parse(request.headers)
    if key is None:
        return None
    # The raw path and query as sent: ?all=true and ?completed=true are different requests.
    return Idempotency(key, state.fingerprint(request.method, request.raw_path, raw))


def _new_id() -> str:
    return str(uuid.uuid4())


def _now() -> str:
    return state.format_timestamp(datetime.now(UTC))

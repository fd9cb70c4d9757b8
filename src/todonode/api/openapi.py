"""``GET /openapi.json``: the OpenAPI 3.1 description of the public API.

Generated, never written by hand: the request bodies, query parameters and headers are the very types
and ``Param`` objects the handlers validate with (``api/models.py``), and the response bodies are the
response types. Each node describes itself: its own limits (title length, batch size) and whether it
asks for a client token. The table ``OPERATIONS`` below is the list of public endpoints; a test checks
it against the app's routes, so an endpoint cannot be added without being described.

Peer RPC (``/internal/raft`` and its old name ``/replicate``) is for cluster members only and is not
described here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import msgspec
from aiohttp import web

from ..config import ApiSection, Config
from . import models
from .errors import APPLIED_HEADER, NODE_HEADER
from .keys import CONFIG

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"
_REF = "#/components/schemas/{name}"
_DIGITS = {"type": "string", "pattern": "^[0-9]+$"}

# Errors every operation can answer, besides its own.
_ALWAYS = {503: "the node is overloaded (overloaded), or has no leader or quorum (no_leader, no_quorum)"}
_BODY_ERRORS = {
    400: "invalid_json, or validation_error naming the field",
    413: "payload_too_large: the body is over api.max_body_bytes",
    415: "unsupported_media_type: send Content-Type: application/json (UTF-8)",
    422: "validation_error: a value of the right kind that is not allowed (names the field)",
}
_WRITE_ERRORS = {
    401: "unauthorized: this node needs the client token",
    421: "not_leader: with ?redirect=true or forward_writes = false, a follower names the leader",
    422: "validation_error, or idempotency_key_reused: the key came with another request",
    503: "no_leader, no_quorum, overloaded, or unavailable (the outcome is unknown: retry with the same "
    "Idempotency-Key)",
    507: "storage_unavailable: the node cannot write to its disk; reads still work",
}


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    ok: tuple[int, Any, str]  # status, response type (None: no JSON schema), media type
    request: str | None = None  # the RequestTypes attribute that validates the body
    params: tuple[models.Param, ...] = ()
    errors: dict[int, str] = field(default_factory=dict)
    write: bool = False  # takes Idempotency-Key, may be forwarded, needs the token if one is set
    read: bool = False  # task data: needs the token with protect_reads
    admin: bool = False  # needs the cluster secret or the client token
    tag: str = "tasks"
    task_path: bool = False  # has the {id} path parameter
    etag: bool = False  # the response carries the task's ETag
    links: tuple[str, ...] = ()  # operations on the task this one answers with (OpenAPI links)


_NOT_FOUND = {404: "not_found: no task with this id"}
_STALE = {412: "precondition_failed: If-Match names an older version", 400: "If-Match cannot be read"}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get",
        "/tasks",
        "listTasks",
        "The tasks, newest first",
        (200, models.TaskList, JSON),
        params=(models.COMPLETED, models.LIMIT, models.CURSOR, *models.READ_PARAMS),
        errors={400: "validation_error naming the parameter", 422: "a parameter out of range"},
        read=True,
    ),
    Operation(
        "post",
        "/tasks",
        "createTask",
        "Create a task",
        (201, models.Task, JSON),
        request="TaskCreate",
        params=(models.REDIRECT,),
        write=True,
        etag=True,
        links=("getTask", "updateTask", "replaceTask", "deleteTask"),
    ),
    Operation(
        "post",
        "/tasks/batch",
        "createTasks",
        "Create several tasks in one log entry: all or nothing",
        (201, models.TaskBatchCreated, JSON),
        request="TaskBatch",
        params=(models.REDIRECT,),
        write=True,
    ),
    Operation(
        "patch",
        "/tasks",
        "setAllCompleted",
        "Mark every task completed (or active) in one log entry",
        (200, models.Updated, JSON),
        request="SetAllCompleted",
        params=(models.REDIRECT,),
        write=True,
    ),
    Operation(
        "delete",
        "/tasks",
        "deleteTasks",
        "Delete the completed tasks (?completed=true) or every task (?all=true)",
        (200, models.Deleted, JSON),
        params=(models.DELETE_COMPLETED, models.DELETE_ALL, models.REDIRECT),
        errors={400: "say what to delete: completed=true or all=true"},
        write=True,
    ),
    Operation(
        "get",
        "/tasks/{id}",
        "getTask",
        "One task, with its ETag",
        (200, models.Task, JSON),
        params=models.READ_PARAMS,
        errors={**_NOT_FOUND, 400: "validation_error naming the parameter"},
        read=True,
        task_path=True,
        etag=True,
    ),
    *(
        Operation(
            method,
            "/tasks/{id}",
            f"{verb}Task",
            "Change the title and/or completed of a task",
            (200, models.Task, JSON),
            request="TaskUpdate",
            params=(models.IF_MATCH, models.REDIRECT),
            errors={**_NOT_FOUND, **_STALE},
            write=True,
            task_path=True,
            etag=True,
        )
        for method, verb in (("put", "replace"), ("patch", "update"))
    ),
    Operation(
        "delete",
        "/tasks/{id}",
        "deleteTask",
        "Delete a task",
        (200, models.TaskDeleted, JSON),
        params=(models.IF_MATCH, models.REDIRECT),
        errors={**_NOT_FOUND, **_STALE},
        write=True,
        task_path=True,
    ),
    Operation("get", "/status", "getStatus", "This node", (200, models.Status, JSON), tag="cluster"),
    Operation("get", "/health", "getHealth", "Liveness", (200, models.Health, JSON), tag="cluster"),
    Operation(
        "get",
        "/ready",
        "getReady",
        "200 once this node knows a leader and has applied what it knows is committed; else 503",
        (200, models.Ready, JSON),
        errors={503: "not ready: the body is a Ready object listing the problems"},
        tag="cluster",
    ),
    Operation(
        "get",
        "/heartbeat",
        "getHeartbeat",
        "Liveness and leader",
        (200, models.Heartbeat, JSON),
        tag="cluster",
    ),
    Operation(
        "get",
        "/cluster/status",
        "getClusterStatus",
        "Every node as the leader sees it (a follower asks the leader)",
        (200, models.ClusterStatus, JSON),
        params=(models.LOCAL,),
        tag="cluster",
    ),
    Operation(
        "post",
        "/cluster/transfer-leader",
        "transferLeader",
        "Hand the leadership to another node (a follower forwards this to the leader)",
        (200, models.TransferStarted, JSON),
        request="TransferLeader",
        errors={
            401: "unauthorized: needs the cluster secret or the client token",
            404: "not_found: no such member",
            409: "transfer_failed: the node did not take over in time (is it reachable and caught up?)",
            503: "no_leader or no_quorum",
        },
        admin=True,
        tag="cluster",
    ),
    Operation(
        "get",
        "/events",
        "streamEvents",
        "Server-Sent Events: task changes (id = log index) and cluster changes",
        (200, None, "text/event-stream"),
        params=(models.LAST_EVENT_ID,),
        read=True,
        tag="events",
    ),
    Operation(
        "get", "/metrics", "getMetrics", "Prometheus metrics", (200, None, "text/plain"), tag="operations"
    ),
    Operation("get", "/openapi.json", "getOpenApi", "This description", (200, None, JSON), tag="operations"),
    Operation("get", "/", "getDashboard", "The dashboard", (200, None, "text/html"), tag="operations"),
)


def add_routes(app: web.Application) -> None:
    app[DOCUMENT] = msgspec.json.encode(build(app[CONFIG]))
    app.router.add_get("/openapi.json", serve)


DOCUMENT = web.AppKey("openapi_document", bytes)


async def serve(request: web.Request) -> web.Response:
    return web.Response(body=request.app[DOCUMENT], content_type=JSON)


def build(config: Config) -> dict[str, Any]:
    """The OpenAPI document for a node with this config."""
    api = config.api
    types = models.request_types(api.max_title_chars, api.max_batch)
    requests = {op.request: getattr(types, op.request) for op in OPERATIONS if op.request}
    named = [*requests.values(), *models.RESPONSE_TYPES]
    schemas, components = msgspec.json.schema_components(named, ref_template=_REF)
    by_type = dict(zip(map(id, named), schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, api, requests, by_type)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "todonode",
            "version": _version(),
            "description": "A replicated todo list. Any node answers; writes sent to a follower are "
            "forwarded to the leader. Every error is JSON: {error, message, ...}.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the client token (api.token) or, for cluster administration, the "
                    "cluster secret",
                }
            },
        },
    }


def _operation(
    op: Operation, api: ApiSection, requests: dict[str, Any], by_type: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    params = list(op.params)
    if op.write:
        params.append(models.IDEMPOTENCY_KEY)
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag]}
    parameters = [_parameter(p) for p in params]
    if op.task_path:
        parameters.insert(0, {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}})
    if parameters:
        out["parameters"] = parameters
    if op.request:
        schema = by_type[id(requests[op.request])]
        out["requestBody"] = {"required": True, "content": {JSON: {"schema": schema}}}
    status, kind, media = op.ok
    ok: dict[str, Any] = {"description": "OK", "headers": _headers(op)}
    ok["content"] = {media: {"schema": by_type[id(kind)]} if kind is not None else {}}
    if op.links:
        ok["links"] = {target: _link(target) for target in op.links}
    responses: dict[str, Any] = {str(status): ok}
    errors = {**_ALWAYS, **(_BODY_ERRORS if op.request else {}), **(_WRITE_ERRORS if op.write else {})}
    errors.update(op.errors)
    if op.read and api.protect_reads:
        errors[401] = "unauthorized: this node needs the client token for reads"
    for code, description in sorted(errors.items()):
        schema = by_type[id(models.Ready if op.path == "/ready" and code == 503 else models.Error)]
        responses[str(code)] = {"description": description, "content": {JSON: {"schema": schema}}}
        if code == 503:
            responses[str(code)]["headers"] = {
                "Retry-After": {"description": "seconds to wait before retrying", "schema": _DIGITS}
            }
    responses["default"] = {
        "description": "any other error, in the same shape",
        "content": {JSON: {"schema": by_type[id(models.Error)]}},
    }
    out["responses"] = responses
    if op.admin or (op.write and api.token is not None) or (op.read and api.protect_reads):
        out["security"] = [{"bearer": []}]
    return out


def _link(operation_id: str) -> dict[str, Any]:
    """The task just answered, by its id (and, for a write, its ETag as If-Match)."""
    parameters = {"path.id": "$response.body#/id"}
    if operation_id != "getTask":
        parameters["header.If-Match"] = "$response.header.ETag"
    return {"operationId": operation_id, "parameters": parameters}


def _parameter(param: models.Param) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": param.where,
        "required": False,
        "description": param.description,
        "schema": param.schema(),
    }


def _headers(op: Operation) -> dict[str, Any]:
    headers = {
        NODE_HEADER: {"description": "the node that answered", "schema": {"type": "string"}},
        APPLIED_HEADER: {
            "description": "how far that node had applied the log: ask any node for ?min_index= this",
            "schema": _DIGITS,
        },
    }
    if op.etag:
        headers["ETag"] = {"description": 'the task\'s version, e.g. "3"', "schema": {"type": "string"}}
    return headers


def _version() -> str:
    try:
        return version("todonode")
    except PackageNotFoundError:
        return "unknown"

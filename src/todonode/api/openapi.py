"""``GET /openapi.json``: the OpenAPI 3.1 description of the public API.

Generated, never written by hand: the request bodies, query parameters and headers are the very types
and ``Param`` objects the handlers validate with (``api/models.py``), and the response bodies are the
response types. Each node describes itself: its own limits (title length, batch size) and whether it
asks for a client token. What it describes is the route table (routes.py), the same table the router is
built from, so a route cannot be served without being described.

Peer RPC (``/internal/raft`` and its old name ``/replicate``) is for cluster members only and is left
out (``Operation.public``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import msgspec
from aiohttp import web

from ..config import ApiSection, Config
from . import headers, models
from .errors import Handler

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"
_REF = "#/components/schemas/{name}"
_DIGITS = {"type": "string", "pattern": "^[0-9]+$"}
_PATH_PARAMETER = re.compile(r"\{(\w+)(?::[^}]*)?\}")  # aiohttp's {name} or {name:regex}
_PATH_PARAMETERS = {
    "id": "the task's id",
    "path": "the file's path below /static/",
    "node": "a member's id, e.g. node4001",
    "action": "stop, pause, resume, restart, isolate, heal, slow-disk or normal-disk",
}

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
    507: "storage_unavailable: the node cannot write to its disk; reads still work. Or quota_exceeded: the "
    "list is as large as storage.max_tasks or max_bytes allow; deletes still work",
}


@dataclass(frozen=True, slots=True)
class Operation:
    """One route of the table in routes.py: what serves it, and how it is described."""

    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    ok: tuple[int, Any, str]  # status, response type (None: no JSON schema), media type
    public: bool = True  # False: for cluster members only (peer RPC), not described
    enabled: Callable[[Config], bool] = lambda config: True  # served by a node with this config
    request: str | None = None  # the RequestTypes attribute that validates the body
    params: tuple[models.Param | models.OneOf, ...] = ()
    errors: dict[int, str] = field(default_factory=dict)
    write: bool = False  # takes Idempotency-Key, may be forwarded, needs the token if one is set
    read: bool = False  # task data: needs the token with protect_reads
    admin: bool = False  # needs the admin token or the cluster's credentials (api/access.py)
    tag: str = "tasks"
    etag: bool = False  # the response carries the task's ETag
    links: tuple[str, ...] = ()  # operations on the task this one answers with (OpenAPI links)


DOCUMENT = web.AppKey("openapi_document", bytes)


async def serve(request: web.Request) -> web.Response:
    return web.Response(body=request.app[DOCUMENT], content_type=JSON)


def build(config: Config, operations: Iterable[Operation]) -> dict[str, Any]:
    """The OpenAPI document for a node with this config that serves ``operations``."""
    api = config.api
    operations = [op for op in operations if op.public]
    types = models.request_types(api.max_title_chars, api.max_batch)
    requests = {op.request: getattr(types, op.request) for op in operations if op.request}
    named = [*requests.values(), *models.RESPONSE_TYPES]
    schemas, components = msgspec.json.schema_components(named, ref_template=_REF)
    by_type = dict(zip(map(id, named), schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path = _PATH_PARAMETER.sub(r"{\1}", op.path)
        paths.setdefault(path, {})[op.method] = _operation(op, api, requests, by_type)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "todonode",
            "version": _version(),
            "description": "A replicated todo list. Any node answers; writes sent to a follower are "
            "forwarded to the leader. Every error is JSON: {error, message, ...}.",
            # What a client splitting a long import into requests needs to know, as numbers.
            "x-todonode-limits": {
                "max_title_chars": api.max_title_chars,
                "max_batch": api.max_batch,
                "max_body_bytes": api.max_body_bytes,
            },
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
                    "admin token (api.admin_token) or the cluster secret",
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
    parameters = [_path_parameter(name) for name in _PATH_PARAMETER.findall(op.path)]
    parameters += [_parameter(p) for p in params]
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


def _path_parameter(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": _PATH_PARAMETERS[name],
        "schema": {"type": "string"},
    }


def _parameter(param: models.Param | models.OneOf) -> dict[str, Any]:
    described = {
        "name": param.name,
        "in": param.where,
        "required": False,
        "description": param.description,
        "schema": param.schema(),
    }
    if isinstance(param, models.OneOf):
        described |= {"required": True, "style": "form", "explode": True}
    return described


def _headers(op: Operation) -> dict[str, Any]:
    described = {
        headers.NODE: {"description": "the node that answered", "schema": {"type": "string"}},
        headers.APPLIED_INDEX: {
            "description": "how far that node had applied the log: ask any node for ?min_index= this",
            "schema": _DIGITS,
        },
    }
    if op.etag:
        described["ETag"] = {"description": 'the task\'s version, e.g. "3"', "schema": {"type": "string"}}
    return described


def _version() -> str:
    try:
        return version("todonode")
    except PackageNotFoundError:
        return "unknown"

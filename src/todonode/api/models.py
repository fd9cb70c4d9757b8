"""The HTTP API's types: what a request must hold and what a response holds.

This module is the one source of truth for the shape of the API. The handlers validate request bodies
by converting them to the request types below (msgspec), headers and query parameters through the
``Param`` objects below, and ``api/openapi.py`` generates ``GET /openapi.json`` from the very same
objects, so the published schema and the validation cannot drift apart.

The rules it lives by:

* Pure: no I/O and no aiohttp. A refused value raises ``errors.Validation`` (400 when the value is
  missing or not the kind of thing the field holds, 422 when it is the right kind but not an allowed
  value), naming the field as the client wrote it (``title``, ``tasks[1].title``, ``body``).
* The limits a node's config sets (title length, batch size) are part of the types, so the request types
  are built per limits (``request_types``) and the schema a node publishes states its own limits.
* The title rule "1 to N characters after trimming surrounding whitespace, no control characters, no
  bidirectional overrides" is one regular expression (``title_pattern``): the wire value matches it
  exactly when it obeys the rule, so the schema describes what the client sends, not what the server keeps.
* Bodies are strict: a field the type does not name is refused (400, naming it), never dropped, so a
  client cannot believe the node did something it ignored.
* Response types describe the JSON the handlers and the state machine produce; the tests and the
  schemathesis run check every response against them.
"""

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from ..errors import Validation

MAX_IDEMPOTENCY_KEY_CHARS = 255
DEFAULT_PAGE = 100  # GET /tasks without limit
MAX_PAGE = 1000
_MAX_DIGITS = 18  # whole-number query parameters: at most 18 digits, so they always fit in 64 bits

# Character classes spelled out, so that the pattern means the same in Python and in ECMA-262, the
# dialect JSON Schema names.
# Exactly the characters Python's str.isspace() accepts (and str.strip() removes).
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# C0 controls and DEL: refused inside a title; the blank ones among them may surround it (trimmed).
CONTROL = r"\x00-\x1f\x7f"
# Refused anywhere in a title, even where trimming would remove them: C1 controls (a terminal obeys
# them, NEL U+0085 included) and the bidirectional embeddings, overrides and isolates, which make a
# title display as other text than it holds. Zero-width joiners and variation selectors are not
# among them: emoji sequences need them.
FORBIDDEN = r"\x80-\x9f\u202a-\u202e\u2066-\u2069"
# What may surround a title: WHITESPACE without NEL, which is a C1 control.
SURROUNDING = r"\t\n\x0b\x0c\r\x1c-\x1f \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def title_pattern(max_chars: int) -> str:
    """The regular expression a raw title matches iff it holds nothing FORBIDDEN and, trimmed of
    surrounding whitespace, has 1 to ``max_chars`` characters and no control characters. Anchored with
    ``^...$``: a final newline that Python's ``$`` would tolerate is whitespace anyway."""
    edge = f"[^{CONTROL}{FORBIDDEN}{WHITESPACE}]"  # the first and the last character that survive trimming
    inner = f"[^{CONTROL}{FORBIDDEN}]"
    kept = edge if max_chars == 1 else f"{edge}(?:{inner}{{0,{max_chars - 2}}}{edge})?"
    return f"^[{SURROUNDING}]*{kept}[{SURROUNDING}]*$"


def title_type(max_chars: int) -> Any:
    return Annotated[
        str,
        Meta(
            pattern=title_pattern(max_chars),
            description=f"1 to {max_chars} characters once surrounding whitespace is trimmed (the "
            "server stores it trimmed); no control characters such as newlines, no bidirectional "
            "overrides (U+202A-U+202E, U+2066-U+2069)",
            examples=["Buy milk"],
        ),
    ]


# ================================================================================== request bodies


@dataclass(frozen=True, slots=True)
class RequestTypes:
    """The request body types of one node, with its limits, and the checks that use them."""

    max_title_chars: int
    max_batch: int
    TaskCreate: type[Struct]
    TaskBatch: type[Struct]
    TaskUpdate: Any  # Annotated: the struct plus "at least one field" for the schema
    SetAllCompleted: type[Struct]
    TransferLeader: type[Struct]
    MemberAdd: type[Struct]
    TaskImport: type[Struct]

    def create_title(self, body: Any) -> str:
        """The trimmed title of a ``POST /tasks`` body ``{"title": ...}``."""
        title: str = self._convert(body, self.TaskCreate).title
        return title.strip()

    def batch_titles(self, body: Any) -> list[str]:
        """The trimmed titles of a ``POST /tasks/batch`` body; one bad item refuses the whole batch."""
        return [item.title.strip() for item in self._convert(body, self.TaskBatch).tasks]

    def update_changes(self, body: Any) -> dict[str, Any]:
        """The changes of a ``PUT``/``PATCH /tasks/{id}`` body: ``title`` and/or ``completed``."""
        update = self._convert(body, self.TaskUpdate)
        changes: dict[str, Any] = {}
        if update.title is not UNSET:
            changes["title"] = update.title.strip()
        if update.completed is not UNSET:
            changes["completed"] = update.completed
        if not changes:
            raise Validation("send at least one of title and completed", field="body")
        return changes

    def set_all_completed(self, body: Any) -> bool:
        """The ``completed`` of a ``PATCH /tasks`` body ``{"completed": true|false}``."""
        completed: bool = self._convert(body, self.SetAllCompleted).completed
        return completed

    def imported_tasks(self, body: Any) -> list[dict[str, Any]]:
        """The tasks of a ``POST /tasks/import`` body, titles trimmed as a create trims them; one bad
        task refuses the whole body."""
        tasks = self._convert(_whole_versions(body), self.TaskImport).tasks
        for number, task in enumerate(tasks):
            # The schema's $ tolerates a final newline in Python (never in ECMA-262): refuse it here.
            for name in ("id", "created_at", "updated_at"):
                if getattr(task, name).endswith("\n"):
                    field = f"tasks[{number}].{name}"
                    raise Validation(_VALUE_MESSAGES[name].format(field=field), field=field, status=422)
        return [
            {
                "id": task.id,
                "title": task.title.strip(),
                "completed": task.completed,
                "created_at": task.created_at,
                "updated_at": task.updated_at,
                "version": task.version,
            }
            for task in tasks
        ]

    def transfer_target(self, body: Any) -> str:
        """The ``node`` of a ``POST /cluster/transfer-leader`` body."""
        node: str = self._convert(body, self.TransferLeader).node
        return node

    def member_to_add(self, body: Any) -> Any:
        """A ``POST /cluster/members`` body: ``url``, and optionally ``id`` and ``learner``."""
        return self._convert(body, self.MemberAdd)

    def _convert(self, body: Any, kind: Any) -> Any:
        try:
            return msgspec.convert(body, kind)  # strict: 1 is not true and "5" is not 5
        except msgspec.ValidationError as exc:
            raise self._explain(str(exc), body) from None

    def _explain(self, problem: str, body: Any) -> Validation:
        """msgspec's description of a refused value, as the API's validation_error."""
        match = _AT.fullmatch(problem)
        what, path = (match["what"], match["path"]) if match else (problem, "")
        field = path.lstrip(".")
        unknown = _UNKNOWN.fullmatch(what)
        if unknown:
            return _unknown_field(f"{field}.{unknown['name'][:_MAX_NAMED]}".lstrip("."))
        missing = _MISSING.fullmatch(what)
        if missing:
            field = f"{field}.{missing['name']}".lstrip(".")
        wrong_kind = missing is not None or (what.startswith("Expected `") and "`, got `" in what)
        leaf = re.sub(r"\[\d+\]$", "[]", field.rsplit(".", 1)[-1]) if field else "body"
        field = field or "body"
        if wrong_kind:
            message = _KIND_MESSAGES.get(leaf, "{field} has the wrong type")
            return Validation(message.format(field=field), field=field)
        return Validation(self._why_not_allowed(leaf, field, body), field=field, status=422)

    def _why_not_allowed(self, leaf: str, field: str, body: Any) -> str:
        value = _value_at(body, field)
        if leaf == "title" and isinstance(value, str):
            if _FORBIDDEN.search(value):
                return (
                    f"{field} must not contain C1 control characters (U+0080-U+009F) or bidirectional "
                    "overrides (U+202A-U+202E, U+2066-U+2069)"
                )
            if not 1 <= len(value.strip()) <= self.max_title_chars:
                return f"{field} must be 1 to {self.max_title_chars} characters after trimming"
            return f"{field} must not contain control characters such as newlines"
        if leaf == "tasks" and isinstance(value, list):
            return f"a batch holds 1 to {self.max_batch} tasks, not {len(value)}"
        if leaf in _VALUE_MESSAGES:
            return _VALUE_MESSAGES[leaf].format(field=field)
        return f"{field} is not an allowed value; GET /openapi.json describes it"


# A task id as todonode makes them: a UUID, in lower case with its hyphens.
TASK_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# A timestamp as todonode makes them (state.format_timestamp): UTC with milliseconds. The pattern
# admits real dates only (the 30th of February is refused, the 29th only in leap years), so that the
# schema a client reads says exactly what the node accepts.
_YEAR = r"(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[13579][26]|0[48])00)"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
TIMESTAMP = (
    rf"^(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z$"
)
MAX_VERSION = 2**53 - 1  # the largest whole number a browser's JSON keeps exactly
MEMBER_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"  # a member id: safe in a URL path, a log line and a file
# Where a member listens: scheme, host (a name, an IPv4 or a bracketed IPv6 address) and a port in
# 1..65535, nothing else; a trailing "/" is allowed and dropped.
_PORT = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
MEMBER_URL = rf"^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):{_PORT}/?$"
_AT = re.compile(r"(?P<what>.*?) - at `\$(?P<path>[^`]*)`", re.DOTALL)
_MISSING = re.compile(r"Object missing required field `(?P<name>[^`]+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<name>.*)`", re.DOTALL)
_FORBIDDEN = re.compile(f"[{FORBIDDEN}]")
_MAX_NAMED = 100  # an unknown field is named in the error up to this many characters
_KIND_MESSAGES = {
    "body": "the request body must be a JSON object",
    "title": "{field} is required and must be a string",
    "completed": "{field} is required and must be true or false",
    "tasks": 'tasks is required and must be a list of {{"title": ...}} objects',
    "tasks[]": "each task must be a JSON object",
    "node": '{field} is required and must be a node id, e.g. "node4001"',
    "id": "{field} is required and must be a string",
    "created_at": "{field} is required and must be a string",
    "updated_at": "{field} is required and must be a string",
    "version": "{field} must be a whole number",
}
_VALUE_MESSAGES = {
    "id": "{field} must be a task id as todonode makes them: a lower-case UUID such as "
    "0b6f3c1e-8a4d-4f7a-9b2c-5d6e7f8a9b0c",
    "created_at": "{field} must be a UTC time with milliseconds such as 2026-12-01T15:08:26.002Z",
    "updated_at": "{field} must be a UTC time with milliseconds such as 2026-12-01T15:08:26.002Z",
    "version": f"{{field}} must be 1 to {MAX_VERSION}",
}


def _whole_versions(body: Any) -> Any:
    """``body`` with each task's version that JSON wrote with a zero fraction (``3.0``) as the whole
    number it is, as JSON Schema counts it: the schema says integer, and so must the check."""
    tasks = body.get("tasks") if isinstance(body, dict) else None
    for task in tasks if isinstance(tasks, list) else ():
        version = task.get("version") if isinstance(task, dict) else None
        if isinstance(version, float) and version.is_integer():
            task["version"] = int(version)
    return body


def _unknown_field(field: str) -> Validation:
    """The refusal of a field no request type has. ``completed`` on a new task gets its own words: the
    create command has no such field, so a new task always starts active."""
    if field == "completed" or field.endswith("].completed"):
        return Validation(
            f"{field} cannot be set on a new task: every task starts active. Create it, then send "
            'PATCH /tasks/{id} with {"completed": true}',
            field=field,
        )
    return Validation(f"{field} is not a field of this request; GET /openapi.json lists them", field=field)


def _value_at(body: Any, field: str) -> Any:
    """The value at ``field`` (``tasks[1].title``) in ``body``, or None."""
    value = body
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", field):
        if part.startswith("["):
            index = int(part[1:-1])
            value = value[index] if isinstance(value, list) and index < len(value) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
    return value


@functools.cache
def request_types(max_title_chars: int, max_batch: int) -> RequestTypes:
    """The request types for these limits (built once per distinct pair of limits)."""
    # Classes made here see the limits; annotations are evaluated now (no postponed annotations here).
    Title = title_type(max_title_chars)

    class TaskCreate(Struct, frozen=True, forbid_unknown_fields=True):
        """A new task: it starts active (``completed`` cannot be set here)."""

        title: Title  # type: ignore[valid-type]  # a type made at run time, for these limits

    class TaskBatch(Struct, frozen=True, forbid_unknown_fields=True):
        """Tasks to create in one log entry: all or nothing."""

        tasks: Annotated[list[TaskCreate], Meta(min_length=1, max_length=max_batch)]

    class TaskUpdate(Struct, frozen=True, forbid_unknown_fields=True):
        """A partial update: at least one of ``title`` and ``completed``."""

        title: Title | UnsetType = UNSET  # type: ignore[valid-type]
        completed: bool | UnsetType = UNSET

    class SetAllCompleted(Struct, frozen=True, forbid_unknown_fields=True):
        """Mark every task completed, or every task active, in one log entry."""

        completed: bool

    class TransferLeader(Struct, frozen=True, forbid_unknown_fields=True):
        """The member that should lead, by id (as in ``GET /cluster/status``)."""

        node: Annotated[str, Meta(min_length=1, max_length=255, examples=["node4001"])]

    class MemberAdd(Struct, frozen=True):
        """A node to add: where it listens, and optionally its id (else the cluster picks one no member
        ever had) and whether it stays a learner (else it is promoted once caught up)."""

        url: Annotated[str, Meta(pattern=MEMBER_URL, max_length=255, examples=["http://127.0.0.1:4004"])]
        id: Annotated[str, Meta(pattern=MEMBER_ID, max_length=64)] | None = None
        learner: bool = False

    Timestamp = Annotated[
        str, Meta(pattern=TIMESTAMP, description="UTC, milliseconds", examples=["2026-12-01T15:08:26.002Z"])
    ]

    class ImportedTask(Struct, frozen=True, forbid_unknown_fields=True):
        """A task as an export holds it, but for ``seq``: the importing list numbers it anew."""

        id: Annotated[str, Meta(pattern=TASK_ID, description="a lower-case UUID, as todonode makes them")]
        title: Title  # type: ignore[valid-type]
        completed: bool
        created_at: Timestamp
        updated_at: Timestamp
        version: Annotated[int, Meta(ge=1, le=MAX_VERSION)] = 1

    class TaskImport(Struct, frozen=True, forbid_unknown_fields=True):
        """Tasks to import in one log entry: those whose id the list holds already are skipped."""

        tasks: Annotated[list[ImportedTask], Meta(min_length=1, max_length=max_batch)]

    at_least_one = Meta(extra_json_schema={"anyOf": [{"required": ["title"]}, {"required": ["completed"]}]})
    return RequestTypes(
        max_title_chars=max_title_chars,
        max_batch=max_batch,
        TaskCreate=TaskCreate,
        TaskBatch=TaskBatch,
        TaskUpdate=Annotated[TaskUpdate, at_least_one],
        SetAllCompleted=SetAllCompleted,
        TransferLeader=TransferLeader,
        MemberAdd=MemberAdd,
        TaskImport=TaskImport,
    )


# ======================================================================== headers and query parameters


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter or request header: its schema and the check that applies it.

    ``kind`` is ``bool`` (``true``/``false``; ``values`` may say only one is useful), ``int`` (whole number
    in ``low..high``), ``enum`` (one of ``values``), ``str`` (``pattern``, ``min_length``..``max_length``),
    or ``etag`` (``*`` or one of our ETags, read as the version it names; ``*`` reads as None).
    400 when the value is not of the kind, 422 when it is but out of range (a string that breaks its rule
    is 422 too).
    """

    name: str
    where: Literal["query", "header"]
    kind: Literal["bool", "int", "enum", "str", "etag"]
    description: str
    low: int = 0
    high: int = 10**_MAX_DIGITS - 1
    values: tuple[str, ...] = ()
    pattern: str | None = None  # what the whole value must match (the schema anchors it)
    min_length: int = 0
    max_length: int | None = None
    problem: str = ""  # the message when a str value breaks its rule

    def schema(self) -> dict[str, Any]:
        if self.kind == "bool":
            return {"type": "string", "enum": list(self.values or ("true", "false"))}
        if self.kind == "enum":
            return {"type": "string", "enum": list(self.values)}
        if self.kind == "int":
            return {"type": "integer", "minimum": self.low, "maximum": self.high}
        schema: dict[str, Any] = {"type": "string", "minLength": self.min_length}  # str and etag
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.pattern is not None:
            schema["pattern"] = f"^(?:{self.pattern})$"
        return schema

    def parse(self, source: Mapping[str, str]) -> Any:
        """The parameter's value in ``source`` (the query or the headers), None when absent."""
        value = source.get(self.name)
        if value is None:
            return None
        if self.kind == "bool":
            if value not in ("true", "false"):
                raise Validation(f"{self.name} must be true or false", field=self.name)
            return value == "true"
        if self.kind == "enum":
            if value not in self.values:
                raise Validation(f"{self.name} must be {' or '.join(self.values)}", field=self.name)
            return value
        if self.kind == "etag":
            return _if_match_version(self, value)
        if self.kind == "int":
            if not _DIGITS.fullmatch(value):
                raise Validation(f"{self.name} must be a whole number", field=self.name)
            number = int(value)
            if not self.low <= number <= self.high:
                high = "" if self.high == 10**_MAX_DIGITS - 1 else str(self.high)
                bounds = f"{self.low} to {high}" if high else f"at least {self.low}"
                raise Validation(f"{self.name} must be {bounds}", field=self.name, status=422)
            return number
        too_long = self.max_length is not None and len(value) > self.max_length
        mismatch = self.pattern is not None and re.fullmatch(self.pattern, value) is None
        if len(value) < self.min_length or too_long or mismatch:
            raise Validation(self.problem, field=self.name, status=422)
        return value


_DIGITS = re.compile(rf"[0-9]{{1,{_MAX_DIGITS}}}")


def etag(version: int) -> str:
    """A task's strong ETag: its version in quotes, e.g. ``"3"``."""
    return f'"{version}"'


def _if_match_version(param: Param, value: str) -> int | None:
    """The version an ``If-Match`` value requires, or None for ``*``.

    ``*`` adds nothing: a write to a missing task is a 404 anyway. One strong ETag as we issue them is
    accepted, and so is its version without the quotes (``3`` can only mean ``"3"``). A weak ETag
    (``W/"3"``) can never match under If-Match's strong comparison, so it is refused (400) rather than
    turned into a 412 that a client would retry for ever; so is a list.
    """
    assert param.pattern is not None
    if re.fullmatch(param.pattern, value) is None:
        raise Validation(f'{param.name} must be "*" or one ETag as we send it, e.g. "3"', field=param.name)
    digits = value.strip(' \t*"')
    return int(digits) if digits else None


COMPLETED = Param("completed", "query", "bool", "only tasks with this completed value")
CONSISTENCY = Param(
    "consistency",
    "query",
    "enum",
    "local (default): this node's applied state; strong: linearizable, confirmed with the leader",
    values=("local", "strong"),
)
MIN_INDEX = Param("min_index", "query", "int", "wait (bounded) until this node has applied this log index")
LIMIT = Param("limit", "query", "int", f"page size (default {DEFAULT_PAGE})", low=1, high=MAX_PAGE)
CURSOR = Param("cursor", "query", "int", "the next_cursor of the previous page", low=1)
REDIRECT = Param(
    "redirect",
    "query",
    "bool",
    "true: a follower answers 421 not_leader with the leader's URL instead of forwarding the write",
)


@dataclass(frozen=True, slots=True)
class OneOf:
    """Query flags of which exactly one must be sent, set to ``true``. Described as one object parameter
    in form style (each property its own ``name=value``), so that the schema says "exactly one", as
    the server does, rather than listing optional flags any combination of which it would refuse."""

    name: str  # the object parameter's name in the schema; never sent itself
    flags: tuple[str, ...]
    description: str
    missing: str  # the message when none is sent
    where: Literal["query"] = "query"

    def schema(self) -> dict[str, Any]:
        options = [
            {
                "type": "object",
                "properties": {flag: {"type": "string", "enum": ["true"]}},
                "required": [flag],
                "additionalProperties": False,
            }
            for flag in self.flags
        ]
        return {"oneOf": options}

    def parse(self, source: Mapping[str, str]) -> str:
        """The one flag sent; Validation when none, more than one, or a value other than true is."""
        sent = [flag for flag in self.flags if flag in source]
        if len(sent) > 1:
            raise Validation(f"send one of {', '.join(f'{f}=true' for f in sent)}, not both", field=sent[-1])
        if not sent:
            raise Validation(self.missing, field=self.flags[0])
        if source[sent[0]] != "true":
            raise Validation(
                f"only {sent[0]}=true is supported; to keep the tasks, send nothing", field=sent[0]
            )
        return sent[0]


# Deleting everything is asked for by name: DELETE /tasks takes exactly one of these.
DELETE_WHICH = OneOf(
    "which",
    ("completed", "all"),
    "completed=true: delete the completed tasks; all=true: delete every task. Exactly one.",
    "say what to delete: DELETE /tasks?completed=true clears completed tasks, DELETE /tasks?all=true "
    "deletes every task",
)
LOCAL = Param("local", "query", "str", "present: answer from this node's own view, without asking the leader")
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    "str",
    "any unique string (e.g. a UUID): a retry with the same key, to any node, replays the first response",
    # Printable ASCII; HTTP drops blanks around a header value, so the first and last are not blank.
    pattern=r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?",
    min_length=1,
    max_length=MAX_IDEMPOTENCY_KEY_CHARS,
    problem=f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters (no "
    "blank at either end), e.g. a UUID",
)
IF_MATCH = Param(
    "If-Match",
    "header",
    "etag",
    'the ETag of the task as last read, e.g. "3": the write fails with 412 if the task changed since',
    # "*" or one strong ETag of ours (its quotes may be left out), surrounding blanks allowed.
    pattern=r'[ \t]*(?:\*|"[0-9]{1,18}"|[0-9]{1,18})[ \t]*',
)
LAST_EVENT_ID = Param("Last-Event-ID", "header", "str", "resume the stream after this event id")

READ_PARAMS = (CONSISTENCY, MIN_INDEX)


# ====================================================================================== responses


class Task(Struct):
    id: Annotated[str, Meta(description="server-made UUID")]
    title: str
    completed: bool
    created_at: Annotated[str, Meta(description="ISO 8601 UTC with milliseconds")]
    updated_at: str
    version: Annotated[int, Meta(ge=1, description="1 on creation, +1 per change; the ETag")]
    seq: Annotated[int, Meta(ge=1, description="creation order: the list is newest first by seq")]


class TaskList(Struct):
    tasks: list[Task]
    next_cursor: Annotated[
        int | None,
        Meta(
            description="pass as cursor for the next page; null on the last page. A page may hold "
            "fewer tasks than limit (even none) and still have a next one, when a filter skipped many"
        ),
    ]


class TaskBatchCreated(Struct):
    tasks: list[Task]


class TaskDeleted(Struct):
    status: Literal["deleted"]
    id: str


class Deleted(Struct):
    deleted: Annotated[int, Meta(ge=0)]


class Updated(Struct):
    updated: Annotated[int, Meta(ge=0)]


class Imported(Struct):
    created: Annotated[int, Meta(ge=0, description="tasks created")]
    skipped: Annotated[int, Meta(ge=0, description="tasks whose id the list already held: left as they are")]


class Error(Struct):
    """Every error: a machine-readable code, a message saying what to do, and fields that help."""

    error: Annotated[str, Meta(examples=["validation_error"])]
    message: str
    field: str | UnsetType = UNSET
    leader: str | UnsetType | None = UNSET
    retry_after: float | UnsetType = UNSET


NodeRole = Literal["follower", "pre_candidate", "candidate", "leader"]


class Status(Struct):
    node_id: str
    url: str
    port: int
    role: NodeRole
    is_leader: bool
    leader: str | None
    leader_id: str | None
    term: int
    commit_index: int
    applied_index: int
    last_index: int
    last_heartbeat: str | None
    reachable_peers: int
    storage_error: str | None
    demo: Annotated[bool, Meta(description="runs in demo mode (make demo): GET /demo answers this machine")]
    version: Annotated[str, Meta(description="the release this node runs", examples=["0.2.0"])]
    cluster_versions: Annotated[list[int], Meta(description="the oldest and newest cluster version it runs")]
    cluster_version: Annotated[int, Meta(ge=1, description="the cluster version, as applied here")]
    storage_format: Annotated[int, Meta(ge=1, description="the storage format it writes")]
    cluster_id: Annotated[str | None, Meta(description="the cluster it belongs to; null until known")] = None
    membership: Annotated[
        Literal["voter", "learner", "joining", "removed"],
        Meta(description="joining: no configuration yet; removed: a change took it out of the cluster"),
    ] = "voter"
    config_disagreement: Annotated[
        str | None, Meta(description="how cluster.nodes differs from the log's members, which are followed")
    ] = None
    warnings: list[str] | UnsetType = UNSET  # in GET /status: what leaves this node exposed (plaintext)


class Health(Struct):
    status: Literal["ok"]
    port: int
    is_leader: bool


class Ready(Struct):
    ready: bool
    node_id: str
    leader: str | None
    problems: list[str]
    error: Literal["not_ready"] | UnsetType = UNSET  # with 503, like every error
    message: str | UnsetType = UNSET


class Heartbeat(Struct):
    status: Literal["alive"]
    node_id: str
    is_leader: bool
    leader: str | None
    term: int


class ClusterNode(Struct):
    id: str
    url: str
    role: Literal["follower", "pre_candidate", "candidate", "leader", "down"]
    reachable: bool
    match_index: int | None
    lag: int | None
    last_contact_ms: int | None
    applied_index: Annotated[int | UnsetType, Meta(description="on the answering node's own row")] = UNSET
    # Unset in an answer relayed from a 0.1.0 leader; null while no stream from that node is open.
    version: str | UnsetType | None = UNSET
    cluster_versions: list[int] | UnsetType | None = UNSET
    membership: Annotated[
        Literal["voter", "learner"] | UnsetType, Meta(description="a learner is promoted once caught up")
    ] = UNSET


class ClusterStatus(Struct):
    leader: str | None
    leader_id: str | None
    followers: list[str]
    term: int
    commit_index: int
    nodes: list[ClusterNode]
    view: Literal["leader", "partial"]
    current_node: str
    current_node_id: str
    is_leader: bool
    cluster_version: Annotated[int | UnsetType, Meta(description="unset from a 0.1.0 leader")] = UNSET
    cluster_id: Annotated[str | UnsetType | None, Meta(description="null until known")] = UNSET
    promote_lag: Annotated[
        int | UnsetType | None, Meta(description="a learner this many entries behind, or fewer, is promoted")
    ] = UNSET


class Member(Struct):
    id: str
    url: str
    role: Literal["voter", "learner"]
    reachable: bool
    match_index: Annotated[int | None, Meta(description="known on the leader only")]
    lag: Annotated[int | None, Meta(description="entries behind the leader's log; known on the leader only")]
    kept_learner: Annotated[bool, Meta(description="added to stay a learner: never promoted")]


class Members(Struct):
    cluster_id: str | None
    leader_id: str | None
    view: Literal["leader", "partial"]
    promote_lag: Annotated[int, Meta(description="a learner this many entries behind, or fewer, is promoted")]
    members: list[Member]
    retired: Annotated[list[str], Meta(description="ids removed by committed changes: never reused")]


class MemberAdded(Struct):
    id: str
    url: str
    role: Literal["learner"]
    cluster_id: str | None
    members: Annotated[dict[str, str], Meta(description="every member's id and URL, the new one included")]


class MemberRemoved(Struct):
    id: str
    removed: Literal[True]


class TransferStarted(Struct):
    status: Literal["transferred", "already_leader"]
    leader: str
    term: int
    note: str | UnsetType = UNSET


class DemoNode(Struct):
    id: str
    url: str
    process: Literal["running", "paused", "down", "restarting"]
    isolated: Annotated[bool, Meta(description="cut off from its peers, both ways")]
    disk_delay_ms: Annotated[int, Meta(ge=0, description="the wait before each fsync of its log")]
    pid: int | None


class DemoState(Struct):
    slow: Annotated[int, Meta(ge=1, description="every timing of the cluster is this many times the usual")]
    slow_disk_ms: Annotated[int, Meta(ge=0, description="what slow-disk makes a node wait before each fsync")]
    nodes: list[DemoNode]


RESPONSE_TYPES: tuple[type[Struct], ...] = (
    Task,
    TaskList,
    TaskBatchCreated,
    TaskDeleted,
    Deleted,
    Updated,
    Imported,
    Error,
    Status,
    Health,
    Ready,
    Heartbeat,
    ClusterStatus,
    TransferStarted,
    Members,
    MemberAdded,
    MemberRemoved,
    DemoState,
)

"""The task state machine: committed commands in, API responses out.

The rules this module lives by:

* Pure: no I/O, no clock, no randomness, no asyncio. Everything a result depends on (task ids, the
  timestamp ``at``, idempotency expiry) comes from the command, decided by the leader before the command
  entered the log (docs/guarantees.md#replicas-that-decide-differently). Replicas that apply the same
  log hold byte-identical state.
* Commands are plain JSON-ready dicts, since they travel through the log as orjson. The HTTP layer checks
  a request against its types (``api/models.py``), then builds the command with a ``*_command`` function.
* ``apply`` never raises because of what a command contains. A committed entry sits in every replica's
  log: if it made ``apply`` raise, every replica would crash on it, and again on every restart. A malformed
  or unknown (say, newer) command yields a 400 ``invalid_command`` result and changes nothing.
* Content limits (title length, batch size) are policy, checked before proposing and never by ``apply``:
  nodes configured with different limits must still agree about every entry already in the log. ``apply``
  checks only the shapes its invariants need.
* The state lives in a plain dict (a pickledb ``db.db``): ``tasks`` {id: ``Task``} in creation order,
  ``idempotency`` {key: record} oldest first, ``meta`` counters. A stored task or record is never changed:
  a ``Task`` is frozen, and a change stores a new Task (or a new record dict). So copying the three
  containers (``snapshot``) gives a consistent snapshot that can be serialised while applies continue.
* An idempotency record keeps what a replay needs, not the response: the status, and the ids of the
  tasks the write created or changed (a replay shows them as they are now), or the whole body when it
  is small and holds no task (an error, a count, a deletion). The table is bounded by keys, bytes and
  age, all measured on what is in the log, so every replica evicts the same records. Records of the
  previous release, which kept whole bodies under ``body``, are still replayed as they are. While a
  node of that release may still be among the replicas (``compact_records`` off: the owner sets it
  from the cluster version), records are kept and evicted as that release does, by keys and age alone:
  a replica that evicted a record the others keep would apply a retry of it that they replay.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeGuard, overload

import msgspec
import orjson

from .seq_order import SeqOrder

IDEMPOTENCY_MAX_KEYS = 10_000
IDEMPOTENCY_MAX_BYTES = 4 * 1024 * 1024  # of records as the snapshot stores them
IDEMPOTENCY_MAX_AGE_S = 24 * 3600
# Tasks one page may look at: a page filtered by completed stops there, short, with a cursor to go on.
SCAN_BUDGET = 10_000
# A task's size in a snapshot but for its title: its id (twice: as the key too) and the other fields.
TASK_OVERHEAD_BYTES = 215

Command = dict[str, Any]

_AT_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Task:
    """One task, as the API shows it and a snapshot stores it: orjson writes a dataclass as a JSON
    object of its fields in this order, byte for byte what a dict of the same items gives. Slots and
    no dict of its own: 88 bytes a task where a dict of the same seven keys takes 272
    (docs/performance.md#where-the-memory-goes)."""

    id: str
    title: str
    completed: bool
    created_at: str
    updated_at: str
    version: int
    seq: int  # creation order, unique: the paging cursor


TASK_FIELDS = tuple(field.name for field in dataclasses.fields(Task))


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """One task a command changed, for the live event stream. ``task`` is None for a deletion."""

    kind: Literal["created", "updated", "deleted"]
    id: str
    task: Task | None = None


class Changes(Sequence[TaskEvent]):
    """The events of a command that changed many tasks alike, made one by one as they are read. A
    delete of 100,000 tasks must not first make 100,000 events (and the garbage collections that
    come with them) while the event loop waits: the publisher reads them a batch per loop turn.
    ``items`` are the tasks, or for deletions their ids; equal to any sequence of the same events."""

    __slots__ = ("_items", "_kind")

    def __init__(self, kind: Literal["created", "updated", "deleted"], items: Sequence[Any]) -> None:
        self._kind = kind
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> TaskEvent: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[TaskEvent]: ...
    def __getitem__(self, index: int | slice) -> TaskEvent | Sequence[TaskEvent]:
        if isinstance(index, slice):
            return Changes(self._kind, self._items[index])
        return self._event(self._items[index])

    def __iter__(self) -> Iterator[TaskEvent]:
        return map(self._event, self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]  # equal to tuples, so not hashable like one

    def _event(self, item: Any) -> TaskEvent:
        if self._kind == "deleted":
            return TaskEvent("deleted", item)
        return TaskEvent(self._kind, item.id, item)


@dataclass(frozen=True, slots=True)
class Result:
    """The API response to one command. ``body`` shares tasks and dicts with the state: read it, never
    change it. A success about one task has that ``Task`` as its body."""

    status: int
    body: dict[str, Any] | Task
    events: Sequence[TaskEvent] = ()
    # True when body is the stored response to an earlier request with the same Idempotency-Key.
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Idempotency:
    """An Idempotency-Key and the ``fingerprint`` of the request that carried it."""

    key: str
    fingerprint: str


def _error(status: int, code: str, message: str, **fields: Any) -> Result:
    return Result(status, {"error": code, "message": message, **fields})


def _invalid(message: str) -> Result:
    return _error(400, "invalid_command", message)


def _not_found(task_id: str) -> Result:
    return _error(404, "not_found", f"No task with id {task_id}; it may have been deleted.", id=task_id)


def fingerprint(method: str, path: str, body: bytes | Any) -> str:
    """sha256 hex of a request. ``path`` must include the query string (``?all=true`` changes the request).

    ``body`` is either the raw bytes or the parsed JSON; parsed JSON is hashed with sorted keys, so key
    order and whitespace do not make two equal requests differ.
    """
    payload = body if isinstance(body, bytes) else orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(b"\n".join((method.upper().encode(), path.encode(), payload))).hexdigest()


def format_timestamp(moment: datetime) -> str:
    """``moment`` as a command's ``at``: ISO 8601 UTC with milliseconds, e.g. ``2026-11-27T01:02:03.456Z``."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no defined UTC instant")
    # isoformat, not strftime: half the time, and every write on the leader makes one (docs/performance.md).
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def _parse_at(value: Any) -> int | None:
    """Milliseconds since the epoch of a well-formed ``at``, else None."""
    if not isinstance(value, str) or not _AT_FORMAT.fullmatch(value):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:  # e.g. month 13
        return None
    return (moment - _EPOCH) // timedelta(milliseconds=1)


# ------------------------------------------------------------------------------------------- command builders


def _command(op: str, at: str, idempotency: Idempotency | None, **fields: Any) -> Command:
    command = {"op": op, "at": at, **fields}
    if idempotency is not None:
        command["idem"] = {"key": idempotency.key, "fingerprint": idempotency.fingerprint}
    return command


def create_command(title: str, *, task_id: str, at: str, idempotency: Idempotency | None = None) -> Command:
    return _command("create", at, idempotency, id=task_id, title=title)


def batch_create_command(
    titles: Sequence[str], *, task_ids: Sequence[str], at: str, idempotency: Idempotency | None = None
) -> Command:
    """One entry creating every title, in order; ``task_ids`` must be as long as ``titles``."""
    items = [{"id": task_id, "title": title} for task_id, title in zip(task_ids, titles, strict=True)]
    return _command("batch_create", at, idempotency, items=items)


def update_command(
    task_id: str,
    changes: Mapping[str, Any],
    *,
    at: str,
    if_version: int | None = None,
    idempotency: Idempotency | None = None,
) -> Command:
    """``changes``: ``title`` and/or ``completed``, checked; ``if_version``: the version the client
    last read (its If-Match), or None."""
    version = {} if if_version is None else {"if_version": if_version}
    return _command("update", at, idempotency, id=task_id, **changes, **version)


def delete_command(
    task_id: str, *, at: str, if_version: int | None = None, idempotency: Idempotency | None = None
) -> Command:
    version = {} if if_version is None else {"if_version": if_version}
    return _command("delete", at, idempotency, id=task_id, **version)


def clear_completed_command(*, at: str, idempotency: Idempotency | None = None) -> Command:
    return _command("clear_completed", at, idempotency)


def delete_all_command(*, at: str, idempotency: Idempotency | None = None) -> Command:
    return _command("delete_all", at, idempotency)


def set_all_completed_command(completed: bool, *, at: str, idempotency: Idempotency | None = None) -> Command:
    return _command("set_all_completed", at, idempotency, completed=completed)


IMPORTED_FIELDS = ("id", "title", "completed", "created_at", "updated_at", "version")


def import_command(
    tasks: Sequence[Mapping[str, Any]], *, at: str, idempotency: Idempotency | None = None
) -> Command:
    """One entry creating each of ``tasks`` (``IMPORTED_FIELDS``, checked) that has an id not yet
    present, in order, and skipping the rest. Re-applying it creates nothing: an import cut short is
    re-run without duplicates, however long after."""
    items = [{name: task[name] for name in IMPORTED_FIELDS} for task in tasks]
    return _command("import_tasks", at, idempotency, items=items)


# -------------------------------------------------------------------------------------------------- the state


def _is_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value != ""


def _has_valid_version(command: Command) -> bool:
    return "if_version" not in command or type(command["if_version"]) is int


def _has_valid_idem(command: Command) -> bool:
    idem = command.get("idem")
    if idem is None:
        return True
    return isinstance(idem, dict) and all(isinstance(idem.get(f), str) for f in ("key", "fingerprint"))


def _precondition(task: Task, command: Command) -> Result | None:
    """The 412 for a write whose ``if_version`` is not the task's current version, else None."""
    expected = command.get("if_version")
    if expected is None or expected == task.version:
        return None
    return _error(
        412,
        "precondition_failed",
        f"Task {task.id} is at version {task.version}, not {expected}: it changed since you read it. "
        "Fetch it again, then retry with its new ETag.",
        id=task.id,
        version=task.version,
    )


class TaskState:
    """The replicated task list, kept in ``store`` (a pickledb ``db.db``; see the module docstring).

    Missing containers are created. Build a new TaskState after replacing the store's contents (loading a
    snapshot): this one keeps references to the containers. ``idempotency_max_keys``,
    ``idempotency_max_bytes`` and ``idempotency_max_age_s`` decide what ``apply`` evicts, so every node
    must use the same values.
    """

    def __init__(
        self,
        store: dict[str, Any],
        *,
        idempotency_max_keys: int = IDEMPOTENCY_MAX_KEYS,
        idempotency_max_bytes: int = IDEMPOTENCY_MAX_BYTES,
        idempotency_max_age_s: float = IDEMPOTENCY_MAX_AGE_S,
    ) -> None:
        self._tasks: dict[str, Task] = store.setdefault("tasks", {})
        self._idem: dict[str, dict[str, Any]] = store.setdefault("idempotency", {})
        self._meta: dict[str, int] = store.setdefault("meta", {})
        # completed is kept so that counts() is O(1); last_seq numbers tasks in creation order.
        for counter in ("applied_index", "last_seq", "completed"):
            self._meta.setdefault(counter, 0)
        self._order: SeqOrder[Task] = SeqOrder(self._tasks.values())
        self._task_bytes = sum(map(task_size, self._tasks.values()))  # derived, like the order
        self._max_keys = idempotency_max_keys
        self._max_idem_bytes = idempotency_max_bytes
        self._max_age_ms = round(idempotency_max_age_s * 1000)
        # Derived from the records, never stored: a replica that loaded a snapshot and one that applied
        # the log count the same.
        self._idem_bytes = sum(_record_size(key, record) for key, record in self._idem.items())
        self.compact_records = True  # see the module docstring

    @property
    def applied_index(self) -> int:
        return self._meta["applied_index"]

    def apply(self, index: int, command: Any) -> Result:
        """Apply the committed entry at ``index``; return the response owed to the client that sent it.

        Indices must increase (gaps are fine: no-op entries never come here). An index at or below the last
        applied one is the caller's bug and raises ValueError: applying an entry twice would diverge from
        the other replicas. Nothing in ``command`` makes this raise (see the module docstring).

        Order: expire idempotency records older than the command's ``at``; replay a known key (or refuse
        its reuse, 422) without executing; otherwise execute, and remember the response under the key.
        """
        if index <= self._meta["applied_index"]:
            raise ValueError(f"entry {index} applied out of order, after {self._meta['applied_index']}")
        self._meta["applied_index"] = index
        if not isinstance(command, dict):
            return _invalid("a command must be a JSON object")
        op = command.get("op")
        if not isinstance(op, str) or op not in _HANDLERS:
            return _invalid(f"unknown op {op!r:.80}")
        now_ms = _parse_at(command.get("at"))
        if now_ms is None or not _has_valid_idem(command):
            return _invalid("a command needs at (ISO 8601 UTC with milliseconds) and a well-formed idem")
        self._expire_idempotency(now_ms)
        idem = command.get("idem")
        if idem is not None:
            known = self.lookup_idempotent(idem["key"], idem["fingerprint"])
            if known is not None:
                return known
        result = _HANDLERS[op](self, command)
        if idem is not None:
            self._remember(idem, result, command["at"], index)
        return result

    # -- idempotency

    def lookup_idempotent(self, key: str, fingerprint: str) -> Result | None:
        """The stored response for ``key`` (``replayed=True``), a 422 if ``key`` came with another request,
        or None if unknown. Read-only; a record past its age stays visible until an apply evicts it."""
        record = self._idem.get(key)
        if record is None:
            return None
        if record["fingerprint"] != fingerprint:
            return _error(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was already used for a different request. "
                "Retry only the exact same request with a key; use a new key for a new request.",
            )
        return self._replay(record)

    def _replay(self, record: Mapping[str, Any]) -> Result:
        """The answer a record stands for: its body if it kept one, else its tasks as they are now."""
        status = record["status"]
        if "body" in record:
            return Result(status, _legacy_body(status, record["body"]), replayed=True)
        if "tasks" in record:
            tasks = [task for task in map(self._tasks.get, record["tasks"]) if task is not None]
            return Result(status, {"tasks": tasks}, replayed=True)
        task_id = record["task"]
        task = self._tasks.get(task_id)
        if task is None:
            applied = f"The write with this Idempotency-Key was applied; task {task_id} was deleted since."
            return Result(404, _error(404, "not_found", applied, id=task_id).body, replayed=True)
        return Result(status, task, replayed=True)

    def _expire_idempotency(self, now_ms: int) -> None:
        # Oldest first by insertion order; stopping at the first young record keeps this O(evicted).
        while self._idem:
            record = next(iter(self._idem.values()))
            written = _parse_at(record["at"])  # well-formed: checked when its command was applied
            if written is not None and now_ms - written <= self._max_age_ms:
                return
            self._forget_oldest()

    def _remember(self, idem: Mapping[str, str], result: Result, at: str, index: int) -> None:
        key = idem["key"]  # unknown here: a known key is replayed, never remembered again
        fingerprint, status = idem["fingerprint"], result.status
        if self.compact_records:
            record = {"fingerprint": fingerprint, "status": status, "at": at, "index": index}
            record.update(_replay_needs(result))
        else:  # the previous release's record, field for field
            record = {
                "fingerprint": fingerprint,
                "status": status,
                "body": result.body,
                "at": at,
                "index": index,
            }
        self._idem[key] = record
        self._idem_bytes += _record_size(key, record)
        while self._idem and (len(self._idem) > self._max_keys or self._over_byte_budget()):
            self._forget_oldest()

    def _over_byte_budget(self) -> bool:
        return self.compact_records and self._idem_bytes > self._max_idem_bytes

    def _forget_oldest(self) -> None:
        self._forget(next(iter(self._idem)))

    def _forget(self, key: str) -> None:
        self._idem_bytes -= _record_size(key, self._idem.pop(key))

    @property
    def idempotency_bytes(self) -> int:
        """The size of the idempotency table as a snapshot stores it."""
        return self._idem_bytes

    @property
    def size_bytes(self) -> int:
        """About what the tasks and the idempotency table take in a snapshot (see ``task_size``)."""
        return self._task_bytes + self._idem_bytes

    # -- handlers: each gets a command whose op, at and idem are well-formed

    def _create(self, command: Command) -> Result:
        item = {"id": command.get("id"), "title": command.get("title")}
        if (problem := self._why_not_new([item])) is not None:
            return _invalid(problem)
        task = self._insert(item, command["at"])
        return Result(201, task, (TaskEvent("created", task.id, task),))

    def _batch_create(self, command: Command) -> Result:
        items = command.get("items")
        if not isinstance(items, list) or not items:
            return _invalid("batch_create needs a non-empty list of items")
        if (problem := self._why_not_new(items)) is not None:
            return _invalid(problem)
        tasks = [self._insert(item, command["at"]) for item in items]
        return Result(201, {"tasks": tasks}, Changes("created", tasks))

    def _import_tasks(self, command: Command) -> Result:
        items = command.get("items")
        if not isinstance(items, list) or not items or not all(map(_is_importable, items)):
            return _invalid(
                "import_tasks needs a non-empty list of tasks, each with a string id and title, a boolean "
                "completed, created_at and updated_at like at, and a version of at least 1"
            )
        created: list[Task] = []
        for item in items:
            if item["id"] not in self._tasks:  # present before, or earlier in this very list
                created.append(self._add(*(item[name] for name in IMPORTED_FIELDS)))
        skipped = len(items) - len(created)
        return Result(200, {"created": len(created), "skipped": skipped}, Changes("created", created))

    def _update(self, command: Command) -> Result:
        task_id = command.get("id")
        changes: dict[str, Any] = {name: command[name] for name in ("title", "completed") if name in command}
        if (
            not _is_id(task_id)
            or not isinstance(changes.get("title", ""), str)
            or type(changes.get("completed", False)) is not bool
            or not _has_valid_version(command)
        ):
            return _invalid("update needs an id, a string title, a boolean completed, an integer if_version")
        task = self._tasks.get(task_id)
        if task is None:
            return _not_found(task_id)
        if (refused := _precondition(task, command)) is not None:
            return refused
        title, completed = changes.get("title", task.title), changes.get("completed", task.completed)
        if title == task.title and completed == task.completed:
            # Nothing changes, so neither does the version: ETags other clients hold stay valid.
            return Result(200, task)
        new = self._replace(task, command["at"], title=title, completed=completed)
        return Result(200, new, (TaskEvent("updated", task_id, new),))

    def _delete(self, command: Command) -> Result:
        task_id = command.get("id")
        if not _is_id(task_id) or not _has_valid_version(command):
            return _invalid("delete needs an id and an integer if_version")
        task = self._tasks.get(task_id)
        if task is None:
            return _not_found(task_id)
        if (refused := _precondition(task, command)) is not None:
            return refused
        self._remove(task)
        return Result(200, {"status": "deleted", "id": task_id}, (TaskEvent("deleted", task_id),))

    def _clear_completed(self, command: Command) -> Result:
        done = [task for task in self._tasks.values() if task.completed]
        for task in done:
            self._remove(task)
        return Result(200, {"deleted": len(done)}, Changes("deleted", [task.id for task in done]))

    def _delete_all(self, command: Command) -> Result:
        gone = list(self._tasks)
        self._tasks.clear()
        self._order.clear()
        self._task_bytes = 0
        self._meta["completed"] = 0
        return Result(200, {"deleted": len(gone)}, Changes("deleted", gone))

    def _set_all_completed(self, command: Command) -> Result:
        completed = command.get("completed")
        if type(completed) is not bool:
            return _invalid("set_all_completed needs a boolean completed")
        at = command["at"]
        stale = [task for task in self._tasks.values() if task.completed != completed]
        new = [self._replace(task, at, title=task.title, completed=completed) for task in stale]
        return Result(200, {"updated": len(new)}, Changes("updated", new))

    # -- the only code that writes tasks: keeps the completed counter true and never edits a stored task

    def _why_not_new(self, items: list[Any]) -> str | None:
        """Why these tasks cannot all be created, or None. All are checked before any is created."""
        ids: set[str] = set()
        for item in items:
            task_id = item.get("id") if isinstance(item, dict) else None
            if not (_is_id(task_id) and isinstance(item.get("title"), str)):
                return "each new task needs a string id and a string title"
            if task_id in self._tasks or task_id in ids:
                return f"task id {task_id} is already taken"
            ids.add(task_id)
        return None

    def _insert(self, item: Mapping[str, Any], at: str) -> Task:
        return self._add(item["id"], item["title"], False, at, at, 1)

    def _add(
        self, task_id: str, title: str, completed: bool, created_at: str, updated_at: str, version: int
    ) -> Task:
        """A new task of these fields, numbered next in creation order."""
        self._meta["last_seq"] += 1
        task = Task(task_id, title, completed, created_at, updated_at, version, self._meta["last_seq"])
        self._tasks[task_id] = task
        self._order.add(task)
        self._task_bytes += task_size(task)
        self._meta["completed"] += completed
        return task

    def _replace(self, task: Task, at: str, *, title: str, completed: bool) -> Task:
        new = Task(task.id, title, completed, task.created_at, at, task.version + 1, task.seq)
        self._tasks[task.id] = new  # an existing key keeps its place: creation order is untouched
        self._order.replace(new)
        if title != task.title:  # only the title changes a task's size (marking all done is O(tasks))
            self._task_bytes += task_size(new) - task_size(task)
        self._meta["completed"] += completed - task.completed
        return new

    def _remove(self, task: Task) -> None:
        del self._tasks[task.id]
        self._order.remove(task.seq)
        self._task_bytes -= task_size(task)
        self._meta["completed"] -= task.completed

    # -- reads

    def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def list_tasks(
        self, completed: bool | None = None, limit: int | None = None, cursor: int | None = None
    ) -> tuple[list[Task], int | None]:
        """Tasks newest first (by ``seq``), only those with ``completed`` if given, and ``next_cursor``.

        ``cursor`` is the previous page's ``next_cursor``: the page starts below that seq, found by
        bisection. ``next_cursor`` is None on the last page. With ``limit`` (at least 1) a page looks at
        no more than SCAN_BUDGET tasks: when the filter skips that many it ends short, even empty, with
        a ``next_cursor`` to go on from. So a page costs O(limit + SCAN_BUDGET) wherever it starts.
        """
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1")
        page: list[Task] = []
        last_seen = 0
        for looked_at, task in enumerate(self._order.below(cursor)):
            if limit is not None and looked_at == SCAN_BUDGET:
                return page, last_seen  # more may follow
            if completed is None or task.completed == completed:
                if len(page) == limit:
                    return page, page[-1].seq
                page.append(task)
            last_seen = task.seq
        return page, None

    def counts(self) -> dict[str, int]:
        total, completed = len(self._tasks), self._meta["completed"]
        return {"total": total, "active": total - completed, "completed": completed}

    def digest(self) -> str:
        """sha256 hex of the whole replicated state; equal on replicas that applied the same entries."""
        return hashlib.sha256(orjson.dumps(self.snapshot())).hexdigest()

    def snapshot(self) -> dict[str, Any]:
        """A point-in-time copy of the state, safe to serialise while applies continue.

        O(tasks) pointer copies: only the containers are copied, the tasks and records inside are shared,
        which is safe because they are never changed once stored. A plain ``dict(store)`` is not enough:
        it would share the containers that ``apply`` keeps changing.
        """
        return {"tasks": dict(self._tasks), "idempotency": dict(self._idem), "meta": dict(self._meta)}


def task_size(task: Task) -> int:
    """About the bytes of ``task`` in a snapshot: its title in UTF-8 and a fixed overhead. Close
    enough for a quota, and cheap enough to keep up to date on every apply."""
    return TASK_OVERHEAD_BYTES + len(task.title.encode())


_ENTRIES_DECODER = msgspec.json.Decoder(dict[str, msgspec.Raw])
_TASK_DECODER = msgspec.json.Decoder(Task)
# Setters of the slots themselves, past the frozen record's __setattr__: see decode_tasks.
_SET_ID, _SET_CREATED_AT, _SET_UPDATED_AT = (
    vars(Task)[name].__set__ for name in ("id", "created_at", "updated_at")
)


def decode_tasks(data: bytes | memoryview) -> dict[str, Task]:
    """A snapshot's ``tasks`` object, decoded straight into Tasks; ValueError if it is not one.

    What each task holds is what a task applied from the log holds: its id is the very string that
    is its key, and equal timestamps are one string (a command's ``at`` is shared by every task it
    made). The object is split into its entries first, each left as a slice of ``data``, and each
    entry is decoded in turn and its extra strings (a second id, timestamps of its own) let go at
    once, so the next entry's take their place: decoded in one call and shared afterwards, a
    million tasks left 245 MB of such gaps that the process kept. The record is new and seen by
    nothing else yet, so setting its slots here, past its frozen ``__setattr__``, breaks no promise
    that it never changes."""
    try:
        tasks: dict[str, Any] = _ENTRIES_DECODER.decode(data)
        shared: dict[str, str] = {}
        for task_id, entry in tasks.items():
            task = _TASK_DECODER.decode(entry)
            if task.id != task_id:
                raise ValueError(f"the task under {task_id!r:.80} has the id {task.id!r:.80}")
            _SET_ID(task, task_id)
            _SET_CREATED_AT(task, shared.setdefault(task.created_at, task.created_at))
            _SET_UPDATED_AT(task, shared.setdefault(task.updated_at, task.updated_at))
            tasks[task_id] = task  # the key keeps its place
    except msgspec.DecodeError as exc:  # a ValidationError too: a task missing a field, or of a wrong type
        raise ValueError(f"the tasks are not valid: {exc}") from exc
    return tasks


def _is_importable(item: Any) -> bool:
    """Has ``item`` every field of an imported task, each of the kind the state's invariants need?"""
    return (
        isinstance(item, dict)
        and _is_id(item.get("id"))
        and isinstance(item.get("title"), str)
        and type(item.get("completed")) is bool
        and _parse_at(item.get("created_at")) is not None
        and _parse_at(item.get("updated_at")) is not None
        and type(item.get("version")) is int
        and item["version"] >= 1
    )


def _replay_needs(result: Result) -> dict[str, Any]:
    """What a record keeps to replay ``result``: the ids of the tasks in a success that shows tasks,
    else the body itself (an error, a count or a deletion: small, and holding no task)."""
    body = result.body
    if isinstance(body, Task):
        return {"task": body.id}
    if result.status < 300 and isinstance(body.get("tasks"), list):
        return {"tasks": [task.id for task in body["tasks"]]}
    return {"body": body}


def _legacy_body(status: int, body: dict[str, Any] | Task) -> dict[str, Any] | Task:
    """The body a record of the previous release kept, as a Result holds it: a success about one
    task as that ``Task``. Decoded from a snapshot, that body is a dict with the task's fields."""
    if isinstance(body, dict) and status < 300 and "version" in body:
        return Task(*(body[name] for name in TASK_FIELDS))
    return body


def _record_size(key: str, record: Mapping[str, Any]) -> int:
    """Bytes of one idempotency record as the snapshot stores it: a function of the record alone, so
    every replica counts the same."""
    return len(key) + len(orjson.dumps(record))


_HANDLERS: dict[str, Callable[[TaskState, Command], Result]] = {
    "create": TaskState._create,
    "batch_create": TaskState._batch_create,
    "update": TaskState._update,
    "delete": TaskState._delete,
    "clear_completed": TaskState._clear_completed,
    "delete_all": TaskState._delete_all,
    "set_all_completed": TaskState._set_all_completed,
    "import_tasks": TaskState._import_tasks,
}

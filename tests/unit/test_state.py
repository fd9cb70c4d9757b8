"""The task state machine: every op and error, idempotency, determinism, snapshots, and a model check."""

from __future__ import annotations

import ast
import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from todonode import seq_order
from todonode import state as state_module
from todonode.state import (
    Idempotency,
    Result,
    Task,
    TaskEvent,
    TaskState,
    batch_create_command,
    clear_completed_command,
    create_command,
    decode_tasks,
    delete_all_command,
    delete_command,
    fingerprint,
    format_timestamp,
    set_all_completed_command,
    update_command,
)

BASE = datetime(2026, 11, 27, 1, 2, 3, 456000, tzinfo=UTC)


def at(seconds: float = 0) -> str:
    return format_timestamp(BASE + timedelta(seconds=seconds))


def key(name: str, request: str = "same request") -> Idempotency:
    return Idempotency(name, fingerprint("POST", "/tasks", {"request": request}))


def shown(body: Any) -> Any:
    """``body`` as a client reads it: through its JSON, tasks as objects."""
    return orjson.loads(orjson.dumps(body))


def reloaded(snapshot: dict[str, Any]) -> dict[str, Any]:
    """``snapshot`` as a node holds it once it has loaded it from its JSON, the tasks as records."""
    store = shown(snapshot)
    store["tasks"] = decode_tasks(orjson.dumps(snapshot["tasks"]))
    return store


class Log:
    """Applies commands with increasing log indices, as the node does once entries commit."""

    def __init__(self, **limits: Any) -> None:
        self.store: dict[str, Any] = {}
        self.state = TaskState(self.store, **limits)
        self.index = 0

    def apply(self, command: Any) -> Result:
        self.index += 1
        return self.state.apply(self.index, command)

    def create(self, title: str = "task", task_id: str | None = None, seconds: float = 0) -> Task:
        result = self.apply(create_command(title, task_id=task_id or f"id-{self.index + 1}", at=at(seconds)))
        assert result.status == 201 and isinstance(result.body, Task)
        return result.body

    def ids(self, **query: Any) -> list[str]:
        return [task.id for task in self.state.list_tasks(**query)[0]]


@pytest.fixture
def log() -> Log:
    return Log()


# ----------------------------------------------------------------------------------------------------- purity


def test_state_module_imports_nothing_that_does_io_or_reads_a_clock() -> None:
    tree = ast.parse(Path(state_module.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    allowed = {"__future__", "hashlib", "re", "collections.abc", "dataclasses", "datetime", "seq_order"}
    assert imported <= allowed | {"typing", "orjson", "msgspec"}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not attributes & {"now", "utcnow", "today", "time", "random", "uuid4"}
    order = ast.parse(Path(seq_order.__file__).read_text())
    assert {node.module for node in ast.walk(order) if isinstance(node, ast.ImportFrom)} <= {
        "__future__",
        "bisect",
        "collections.abc",
        "operator",
        "typing",
    }


# --------------------------------------------------------------------------------------------------- builders


def test_builders_make_json_ready_commands_with_optional_idem() -> None:
    idem = Idempotency("k", "f")
    commands = [
        create_command("a", task_id="1", at=at(), idempotency=idem),
        batch_create_command(["a", "b"], task_ids=["1", "2"], at=at()),
        update_command("1", {"completed": True}, at=at(), if_version=2),
        delete_command("1", at=at()),
        clear_completed_command(at=at()),
        delete_all_command(at=at()),
        set_all_completed_command(True, at=at()),
    ]
    assert [orjson.loads(orjson.dumps(command)) for command in commands] == commands
    assert commands[0] == {
        "op": "create",
        "at": "2026-11-27T01:02:03.456Z",
        "id": "1",
        "title": "a",
        "idem": {"key": "k", "fingerprint": "f"},
    }
    assert commands[1]["items"] == [{"id": "1", "title": "a"}, {"id": "2", "title": "b"}]
    assert commands[2] == {"op": "update", "at": at(), "id": "1", "completed": True, "if_version": 2}
    assert "if_version" not in commands[3] and "idem" not in commands[3]


def test_batch_builder_needs_one_id_per_title() -> None:
    with pytest.raises(ValueError):
        batch_create_command(["a", "b"], task_ids=["1"], at=at())


def test_format_timestamp_is_utc_with_milliseconds_and_refuses_naive_times() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert (
        format_timestamp(datetime(2026, 1, 2, 5, 4, 5, 123999, tzinfo=plus_two)) == "2026-01-02T03:04:05.123Z"
    )
    with pytest.raises(ValueError):
        format_timestamp(datetime(2026, 1, 2))


# --------------------------------------------------------------------------------------------------- every op


def test_create_returns_201_with_the_task_and_a_created_event(log: Log) -> None:
    result = log.apply(create_command("Buy milk", task_id="a1", at=at()))
    task = Task("a1", "Buy milk", False, at(), at(), 1, 1)
    assert result == Result(201, task, (TaskEvent("created", "a1", task),))
    assert log.state.get("a1") == task
    assert shown(task) == {
        "id": "a1",
        "title": "Buy milk",
        "completed": False,
        "created_at": at(),
        "updated_at": at(),
        "version": 1,
        "seq": 1,
    }


def test_batch_create_returns_every_task_in_order_with_increasing_seq(log: Log) -> None:
    log.create()
    result = log.apply(batch_create_command(["x", "y", "z"], task_ids=["x", "y", "z"], at=at()))
    assert result.status == 201
    assert [(t.id, t.seq) for t in result.body["tasks"]] == [("x", 2), ("y", 3), ("z", 4)]
    assert [event.id for event in result.events] == ["x", "y", "z"]
    assert log.ids() == ["z", "y", "x", "id-1"]


def test_update_changes_fields_and_bumps_version_and_updated_at(log: Log) -> None:
    log.create("old", "a")
    result = log.apply(update_command("a", {"title": "new", "completed": True}, at=at(5)))
    assert result.status == 200
    assert result.body == Task("a", "new", True, at(), at(5), 2, 1)
    assert result.events == (TaskEvent("updated", "a", result.body),)


def test_update_that_changes_nothing_keeps_version_and_updated_at(log: Log) -> None:
    created = log.create("same", "a")
    result = log.apply(update_command("a", {"title": "same", "completed": False}, at=at(9)))
    assert result == Result(200, created)


def test_update_replaces_the_task_and_never_edits_the_stored_one(log: Log) -> None:
    before = log.create("old", "a")
    log.apply(update_command("a", {"title": "new"}, at=at(1)))
    assert before == Task("a", "old", False, at(), at(), 1, 1)
    assert log.state.get("a") == Task("a", "new", False, at(), at(1), 2, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        before.title = "changed"  # type: ignore[misc]


def test_update_or_delete_of_a_missing_task_is_404(log: Log) -> None:
    for command in (update_command("nope", {"title": "x"}, at=at()), delete_command("nope", at=at())):
        result = log.apply(command)
        assert result.status == 404
        assert result.body["error"] == "not_found" and result.body["id"] == "nope" and result.body["message"]
        assert result.events == ()


def test_stale_if_version_is_412_and_changes_nothing(log: Log) -> None:
    log.create("t", "a")
    log.apply(update_command("a", {"completed": True}, at=at()))
    for command in (
        update_command("a", {"title": "lost update"}, at=at(), if_version=1),
        delete_command("a", at=at(), if_version=1),
    ):
        result = log.apply(command)
        assert result.status == 412
        assert result.body["error"] == "precondition_failed" and result.body["version"] == 2
    assert log.state.get("a").title == "t"  # type: ignore[union-attr]


def test_current_if_version_lets_the_write_through(log: Log) -> None:
    log.create("t", "a")
    assert log.apply(update_command("a", {"title": "u"}, at=at(), if_version=1)).body.version == 2  # type: ignore[union-attr]
    assert log.apply(delete_command("a", at=at(), if_version=2)).status == 200


def test_delete_returns_status_and_id_and_a_deleted_event(log: Log) -> None:
    log.create("t", "a")
    result = log.apply(delete_command("a", at=at()))
    assert result == Result(200, {"status": "deleted", "id": "a"}, (TaskEvent("deleted", "a"),))
    assert log.state.get("a") is None


def test_clear_completed_deletes_only_completed_tasks(log: Log) -> None:
    for task_id in "abc":
        log.create(task_id, task_id)
    log.apply(update_command("b", {"completed": True}, at=at()))
    result = log.apply(clear_completed_command(at=at()))
    assert result.body == {"deleted": 1} and result.events == (TaskEvent("deleted", "b"),)
    assert log.ids() == ["c", "a"]
    assert log.apply(clear_completed_command(at=at())).body == {"deleted": 0}


def test_delete_all_empties_the_list(log: Log) -> None:
    for task_id in "ab":
        log.create(task_id, task_id)
    result = log.apply(delete_all_command(at=at()))
    assert result.status == 200 and result.body == {"deleted": 2}
    assert [event.id for event in result.events] == ["a", "b"]
    assert log.ids() == [] and log.state.counts() == {"total": 0, "active": 0, "completed": 0}


def test_set_all_completed_changes_and_counts_only_tasks_that_differ(log: Log) -> None:
    for task_id in "abc":
        log.create(task_id, task_id)
    log.apply(update_command("b", {"completed": True}, at=at()))
    result = log.apply(set_all_completed_command(True, at=at(3)))
    assert result.body == {"updated": 2}
    assert [event.id for event in result.events] == ["a", "c"]
    assert [log.state.get(i).version for i in "abc"] == [2, 2, 2]  # type: ignore[union-attr]
    assert log.state.counts() == {"total": 3, "active": 0, "completed": 3}
    assert log.apply(set_all_completed_command(False, at=at(4))).body == {"updated": 3}


# -------------------------------------------------------------------------------------------- batch atomicity


@pytest.mark.parametrize(
    "items",
    [
        [{"id": "n1", "title": "ok"}, {"id": "n1", "title": "same id twice"}],
        [{"id": "n1", "title": "ok"}, {"id": "taken", "title": "id already used"}],
        [{"id": "n1", "title": "ok"}, {"id": "n2", "title": 7}],
        [{"id": "n1", "title": "ok"}, "not an object"],
        [{"id": "n1", "title": "ok"}, {"id": "", "title": "empty id"}],
        [],
    ],
)
def test_apply_of_a_batch_is_all_or_nothing(log: Log, items: list[Any]) -> None:
    log.create("t", "taken")
    before = orjson.dumps(log.store["tasks"]), log.store["meta"]["last_seq"]
    result = log.apply({"op": "batch_create", "at": at(), "items": items})
    assert result.status == 400 and result.body["error"] == "invalid_command" and result.events == ()
    assert (orjson.dumps(log.store["tasks"]), log.store["meta"]["last_seq"]) == before


# ------------------------------------------------------------------------------------------------------ reads


def test_list_is_newest_first_by_creation_order_not_by_timestamp(log: Log) -> None:
    # A new leader with a slower clock makes `at` go backwards; the order must not.
    for n, task_id in enumerate("abcd"):
        log.create(task_id, task_id, seconds=-n)
    assert log.ids() == ["d", "c", "b", "a"]


def test_order_holds_after_deletes_and_updates(log: Log) -> None:
    for task_id in "abcde":
        log.create(task_id, task_id)
    log.apply(delete_command("c", at=at()))
    log.apply(update_command("a", {"title": "edited"}, at=at()))
    log.create("f", "f")
    assert log.ids() == ["f", "e", "d", "b", "a"]
    assert log.ids(completed=False) == ["f", "e", "d", "b", "a"]


def test_a_page_shows_each_task_as_it_is_now(log: Log) -> None:
    for task_id in "abc":
        log.create(task_id, task_id)
    log.apply(update_command("a", {"title": "edited"}, at=at()))
    log.apply(set_all_completed_command(True, at=at()))
    page, _ = log.state.list_tasks()
    assert [(task.title, task.completed, task.version) for task in page] == [
        ("c", True, 2),
        ("b", True, 2),
        ("edited", True, 3),
    ]
    assert page == [log.state.get(task_id) for task_id in "cba"]


def test_pagination_walks_every_task_once_newest_first(log: Log) -> None:
    for n in range(10):
        log.create(str(n), f"t{n}")
        if n % 3 == 0:
            log.apply(update_command(f"t{n}", {"completed": True}, at=at()))
    for completed in (None, True, False):
        expected = log.ids(completed=completed)
        seen: list[str] = []
        cursor = None
        while True:
            page, cursor = log.state.list_tasks(completed=completed, limit=3, cursor=cursor)
            seen += [task.id for task in page]
            if cursor is None:
                break
        assert seen == expected


def test_a_full_last_page_has_no_cursor(log: Log) -> None:
    for n in range(4):
        log.create(str(n), f"t{n}")
    assert [len(p) for p, _ in [log.state.list_tasks(limit=4)]] == [4]
    assert log.state.list_tasks(limit=4)[1] is None
    page, cursor = log.state.list_tasks(limit=2)
    assert cursor == page[-1].seq == 3
    assert [t.id for t in log.state.list_tasks(limit=2, cursor=cursor)[0]] == ["t1", "t0"]
    assert log.state.list_tasks(limit=2, cursor=cursor)[1] is None


def test_a_filtered_page_looks_at_no_more_than_the_scan_budget(log: Log, monkeypatch) -> None:
    monkeypatch.setattr(state_module, "SCAN_BUDGET", 4)
    for n in range(12):
        log.create(str(n), f"t{n}")
    log.apply(update_command("t0", {"completed": True}, at=at()))
    log.apply(update_command("t1", {"completed": True}, at=at()))
    page, cursor = log.state.list_tasks(completed=True, limit=10)
    assert (page, cursor) == ([], 9)  # t11..t8 looked at, none completed: go on below seq 9
    pages = [page]
    while cursor is not None:
        page, cursor = log.state.list_tasks(completed=True, limit=10, cursor=cursor)
        pages.append(page)
    assert [[t.id for t in page] for page in pages] == [[], [], ["t1", "t0"]]


def test_pages_stay_right_while_many_tasks_go(log: Log) -> None:
    for n in range(50):
        log.create(str(n), f"t{n}")
    for n in range(0, 50, 3):
        log.apply(delete_command(f"t{n}", at=at()))
    log.apply(update_command("t49", {"completed": True}, at=at()))
    log.apply(clear_completed_command(at=at()))
    expected = [f"t{n}" for n in reversed(range(50)) if n % 3 and n != 49]
    seen, cursor = [], None
    while True:
        page, cursor = log.state.list_tasks(limit=7, cursor=cursor)
        seen += [task.id for task in page]
        if cursor is None:
            break
    assert seen == expected == log.ids()


def test_limit_below_one_is_a_caller_error(log: Log) -> None:
    with pytest.raises(ValueError):
        log.state.list_tasks(limit=0)


def test_counts_follow_every_change(log: Log) -> None:
    for task_id in "abc":
        log.create(task_id, task_id)
    log.apply(update_command("a", {"completed": True}, at=at()))
    assert log.state.counts() == {"total": 3, "active": 2, "completed": 1}
    log.apply(delete_command("a", at=at()))
    assert log.state.counts() == {"total": 2, "active": 2, "completed": 0}


# ----------------------------------------------------------------------------------------- fingerprints


def test_fingerprint_separates_requests_but_not_key_order() -> None:
    assert fingerprint("post", "/tasks", {"a": 1, "b": 2}) == fingerprint("POST", "/tasks", {"b": 2, "a": 1})
    # Raw bytes are hashed exactly as sent; pass the parsed body to ignore formatting.
    assert fingerprint("POST", "/tasks", b'{"a": 1}') != fingerprint("POST", "/tasks", b'{"a":1}')
    distinct = {
        fingerprint("POST", "/tasks", {"a": 1}),
        fingerprint("PUT", "/tasks", {"a": 1}),
        fingerprint("POST", "/tasks/batch", {"a": 1}),
        fingerprint("POST", "/tasks", {"a": 2}),
        fingerprint("DELETE", "/tasks?all=true", None),
        fingerprint("DELETE", "/tasks?completed=true", None),
    }
    assert len(distinct) == 6
    assert len(fingerprint("GET", "/", b"")) == 64


# ------------------------------------------------------------------------------------------------ idempotency


def test_replay_returns_the_byte_identical_body_and_does_not_apply_again(log: Log) -> None:
    first = log.apply(create_command("t", task_id="a", at=at(), idempotency=key("k")))
    # The leader of the retry picks a new id and time; the stored response still wins.
    retry = log.apply(create_command("t", task_id="b", at=at(30), idempotency=key("k")))
    assert retry.replayed and not first.replayed
    assert (retry.status, orjson.dumps(retry.body)) == (201, orjson.dumps(first.body))
    assert retry.events == ()
    assert log.ids() == ["a"] and log.store["meta"]["last_seq"] == 1


def test_a_replay_shows_the_task_as_it_is_now(log: Log) -> None:
    first = log.apply(create_command("t", task_id="a", at=at(), idempotency=key("k")))
    log.apply(update_command("a", {"title": "changed"}, at=at(1)))
    retry = log.apply(create_command("t", task_id="b", at=at(2), idempotency=key("k")))
    assert (retry.status, retry.body) == (201, Task("a", "changed", False, at(), at(1), 2, 1))
    assert first.body == Task("a", "t", False, at(), at(), 1, 1)


def test_a_replay_of_a_write_whose_task_was_deleted_since_says_so(log: Log) -> None:
    log.apply(create_command("t", task_id="a", at=at(), idempotency=key("k")))
    log.apply(delete_command("a", at=at(1)))
    retry = log.apply(create_command("t", task_id="b", at=at(2), idempotency=key("k")))
    assert retry.replayed and (retry.status, retry.body["error"], retry.body["id"]) == (404, "not_found", "a")
    assert "was applied" in retry.body["message"] and log.ids() == []


def test_a_replayed_batch_lists_its_tasks_still_there_as_they_are_now(log: Log) -> None:
    command = batch_create_command(["a", "b", "c"], task_ids=["1", "2", "3"], at=at(), idempotency=key("k"))
    log.apply(command)
    log.apply(delete_command("2", at=at(1)))
    log.apply(update_command("3", {"completed": True}, at=at(2)))
    retry = log.apply({**command, "at": at(3)})
    assert retry.replayed and retry.status == 201
    assert [(t.id, t.completed) for t in retry.body["tasks"]] == [("1", False), ("3", True)]  # type: ignore[index]


def test_a_record_keeps_ids_or_a_small_body_never_the_tasks(log: Log) -> None:
    titles = [f"task number {n}" for n in range(1000)]
    ids = [f"{n:036d}" for n in range(1000)]
    log.apply(batch_create_command(titles, task_ids=ids, at=at(), idempotency=key("batch")))
    log.apply(create_command("one", task_id="x", at=at(), idempotency=key("one")))
    log.apply(delete_command("x", at=at(), idempotency=key("gone")))
    log.apply(delete_all_command(at=at(), idempotency=key("all")))
    log.apply(delete_command("x", at=at(), idempotency=key("missing")))
    table = log.store["idempotency"]
    assert table["batch"]["tasks"] == ids and "body" not in table["batch"]
    assert table["one"]["task"] == "x" and "body" not in table["one"]
    assert table["gone"]["body"] == {"status": "deleted", "id": "x"}
    assert table["all"]["body"] == {"deleted": 1000}
    assert table["missing"]["status"] == 404 and table["missing"]["body"]["error"] == "not_found"
    # 1,000 ids of 36 characters: about 39 KB, where the bodies were about 190 KB.
    assert log.state.idempotency_bytes < 45_000


def test_records_of_the_previous_release_are_replayed_as_they_were(log: Log) -> None:
    body = {"id": "a", "title": "t", "completed": False, "created_at": at(), "updated_at": at()}
    body |= {"version": 1, "seq": 1}
    old = {"fingerprint": key("k").fingerprint, "status": 201, "body": body, "at": at(), "index": 1}
    store = {
        "tasks": {},
        "idempotency": {"k": old},
        "meta": {"applied_index": 1, "last_seq": 1, "completed": 0},
    }
    state = TaskState(store)
    task = Task(**body)
    assert state.lookup_idempotent("k", key("k").fingerprint) == Result(201, task, replayed=True)
    replay = state.apply(2, create_command("t", task_id="b", at=at(1), idempotency=key("k")))
    assert replay == Result(201, task, replayed=True) and orjson.dumps(replay.body) == orjson.dumps(body)
    assert state.idempotency_bytes == len("k") + len(orjson.dumps(old))


def test_eviction_by_bytes_drops_the_oldest_keys_first() -> None:
    log = Log(idempotency_max_bytes=600)
    for n in range(6):
        log.apply(create_command("t", task_id=f"t{n}", at=at(), idempotency=key(f"k{n}")))
        assert log.state.idempotency_bytes <= 600
    kept = list(log.store["idempotency"])
    assert kept == [f"k{n}" for n in range(6 - len(kept), 6)] and 1 < len(kept) < 6
    assert log.state.lookup_idempotent("k0", key("k0").fingerprint) is None


def test_the_byte_count_survives_a_snapshot_and_drives_the_same_evictions() -> None:
    replica, twin = Log(idempotency_max_bytes=2000), Log(idempotency_max_bytes=2000)
    for n in range(30):
        command = create_command("t", task_id=f"t{n}", at=at(n), idempotency=key(f"k{n}"))
        replica.apply(command)
        twin.apply(command)
        if n % 7 == 3:
            twin.store = reloaded(twin.state.snapshot())
            twin.state = TaskState(twin.store, idempotency_max_bytes=2000)
        assert twin.state.idempotency_bytes == replica.state.idempotency_bytes
    assert orjson.dumps(twin.store) == orjson.dumps(replica.store)


def test_error_responses_are_remembered_and_replayed(log: Log) -> None:
    first = log.apply(delete_command("nope", at=at(), idempotency=key("k")))
    log.create("t", "nope")
    retry = log.apply(delete_command("nope", at=at(), idempotency=key("k")))
    assert (first.status, retry.status, retry.replayed) == (404, 404, True)
    assert log.state.get("nope") is not None


def test_same_key_with_another_request_is_422_and_applies_nothing(log: Log) -> None:
    log.apply(create_command("t", task_id="a", at=at(), idempotency=key("k", "first")))
    result = log.apply(create_command("u", task_id="b", at=at(), idempotency=key("k", "second")))
    assert (
        result.status == 422 and result.body["error"] == "idempotency_key_reused" and result.body["message"]
    )
    assert log.ids() == ["a"]


def test_lookup_is_the_read_only_fast_path(log: Log) -> None:
    first = log.apply(create_command("t", task_id="a", at=at(), idempotency=key("k")))
    assert log.state.lookup_idempotent("other", key("other").fingerprint) is None
    assert log.state.lookup_idempotent("k", key("k").fingerprint) == Result(201, first.body, replayed=True)
    assert log.state.lookup_idempotent("k", "different").status == 422


def test_a_malformed_command_is_not_remembered(log: Log) -> None:
    log.apply(
        {"op": "create", "at": "yesterday", "id": "a", "title": "t", "idem": {"key": "k", "fingerprint": "f"}}
    )
    assert log.state.lookup_idempotent("k", "f") is None


def test_eviction_by_count_drops_the_oldest_key_first() -> None:
    log = Log(idempotency_max_keys=2)
    for n in range(3):
        log.apply(create_command("t", task_id=f"t{n}", at=at(), idempotency=key(f"k{n}")))
    assert log.state.lookup_idempotent("k0", key("k0").fingerprint) is None
    assert list(log.store["idempotency"]) == ["k1", "k2"]
    # The evicted key is new again: a retry now executes.
    assert not log.apply(create_command("t", task_id="again", at=at(), idempotency=key("k0"))).replayed
    assert list(log.store["idempotency"]) == ["k2", "k0"]


def test_eviction_by_age_is_driven_only_by_the_commands_at() -> None:
    log = Log(idempotency_max_age_s=60)
    log.apply(create_command("t", task_id="a", at=at(0), idempotency=key("old")))
    log.apply(create_command("t", task_id="b", at=at(30), idempotency=key("young")))
    log.apply(clear_completed_command(at=at(60)))  # exactly 60 s old: kept
    assert list(log.store["idempotency"]) == ["old", "young"]
    log.apply(clear_completed_command(at=at(60.001)))  # any command carries the time that expires keys
    assert list(log.store["idempotency"]) == ["young"]
    assert not log.apply(create_command("t", task_id="c", at=at(61), idempotency=key("old"))).replayed


def test_expiry_never_consults_a_clock() -> None:
    # Every time here is years away from now; only the commands' own times matter.
    log = Log(idempotency_max_age_s=60)
    long_ago = datetime(2001, 1, 1, tzinfo=UTC)
    log.apply(create_command("t", task_id="a", at=format_timestamp(long_ago), idempotency=key("k")))
    later = format_timestamp(long_ago + timedelta(seconds=59))
    assert log.apply(create_command("t", task_id="b", at=later, idempotency=key("k"))).replayed


# ------------------------------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "command",
    [
        None,
        [1, 2],
        "create",
        {},
        {"op": "launch_rockets", "at": at()},
        {"op": ["create"], "at": at()},
        {"op": "create", "id": "a", "title": "t"},
        {"op": "create", "at": "2026-11-27T01:02:03Z", "id": "a", "title": "t"},
        {"op": "create", "at": "2026-13-45T01:02:03.456Z", "id": "a", "title": "t"},
        {"op": "create", "at": 1764205323, "id": "a", "title": "t"},
        {"op": "create", "at": at(), "id": "a", "title": "t", "idem": "k"},
        {"op": "create", "at": at(), "id": "a", "title": "t", "idem": {"key": 1, "fingerprint": "f"}},
        {"op": "create", "at": at(), "title": "t"},
        {"op": "create", "at": at(), "id": "a", "title": None},
        {"op": "create", "at": at(), "id": "exists", "title": "t"},
        {"op": "batch_create", "at": at(), "items": {"id": "a", "title": "t"}},
        {"op": "update", "at": at(), "id": "exists", "completed": "yes"},
        {"op": "update", "at": at(), "id": "exists", "title": ["t"]},
        {"op": "update", "at": at(), "id": "exists", "if_version": "1"},
        {"op": "update", "at": at(), "id": "exists", "if_version": True},
        {"op": "update", "at": at(), "id": {"x": 1}, "title": "t"},
        {"op": "delete", "at": at(), "id": None},
        {"op": "delete", "at": at(), "id": "exists", "if_version": 1.0},
        {"op": "set_all_completed", "at": at(), "completed": None},
    ],
)
def test_malformed_commands_return_400_and_change_nothing(log: Log, command: Any) -> None:
    log.create("t", "exists")
    before = orjson.dumps(log.store["tasks"])
    result = log.apply(command)
    assert result.status == 400 and result.body["error"] == "invalid_command" and result.body["message"]
    assert orjson.dumps(log.store["tasks"]) == before
    assert log.state.applied_index == log.index


def test_applying_an_index_twice_is_a_caller_bug_and_raises(log: Log) -> None:
    log.state.apply(5, create_command("t", task_id="a", at=at()))
    for index in (5, 4):
        with pytest.raises(ValueError):
            log.state.apply(index, create_command("t", task_id="b", at=at()))
    assert log.state.applied_index == 5


# ------------------------------------------------------------------------------------------------ determinism


def scripted_commands() -> list[dict[str, Any]]:
    return [
        create_command("one", task_id="1", at=at(0), idempotency=key("k1")),
        batch_create_command(["two", "three", "four"], task_ids=["2", "3", "4"], at=at(1)),
        update_command("2", {"completed": True}, at=at(2), idempotency=key("k2")),
        create_command("one", task_id="5", at=at(3), idempotency=key("k1")),
        delete_command("3", at=at(4)),
        set_all_completed_command(True, at=at(5)),
        update_command("4", {"title": "FOUR", "completed": False}, at=at(6), if_version=2),
        clear_completed_command(at=at(7), idempotency=key("k3")),
        create_command("six", task_id="6", at=at(8)),
        update_command("6", {"title": "x"}, at=at(9), if_version=7),
    ]


def test_replicas_fed_the_same_log_hold_identical_state() -> None:
    replicas = [Log(), Log()]
    for command in scripted_commands():
        results = [replica.apply(orjson.loads(orjson.dumps(command))) for replica in replicas]
        assert orjson.dumps(results[0].body) == orjson.dumps(results[1].body)
    assert orjson.dumps(replicas[0].store) == orjson.dumps(replicas[1].store)
    assert replicas[0].state.digest() == replicas[1].state.digest()
    assert replicas[0].ids() == ["6", "4"]


def test_digest_differs_when_state_differs(log: Log) -> None:
    other = Log()
    log.create("a", "a")
    other.create("b", "a")
    assert log.state.digest() != other.state.digest()


def test_state_round_trips_through_orjson_and_continues_identically() -> None:
    commands = scripted_commands()
    original = Log()
    for command in commands[:5]:
        original.apply(command)
    restored = Log()
    restored.store = reloaded(original.state.snapshot())
    restored.state, restored.index = TaskState(restored.store), original.index
    assert restored.state.digest() == original.state.digest()
    assert restored.ids() == original.ids()
    for command in commands[5:]:
        assert orjson.dumps(restored.apply(command).body) == orjson.dumps(original.apply(command).body)
    assert orjson.dumps(restored.store) == orjson.dumps(original.store)
    # A retry after the restart is still recognised.
    assert restored.apply(create_command("one", task_id="7", at=at(10), idempotency=key("k1"))).replayed


def test_snapshot_is_a_point_in_time_copy(log: Log) -> None:
    log.create("t", "a")
    snapshot = log.state.snapshot()
    frozen = orjson.dumps(snapshot)
    log.apply(update_command("a", {"completed": True}, at=at()))
    log.create("u", "b")
    log.apply(delete_command("a", at=at(), idempotency=key("k")))
    assert orjson.dumps(snapshot) == frozen


def test_missing_containers_are_created_and_existing_state_is_kept() -> None:
    store: dict[str, Any] = {"other": 1}
    TaskState(store)
    assert store == {
        "other": 1,
        "tasks": {},
        "idempotency": {},
        "meta": {"applied_index": 0, "last_seq": 0, "completed": 0},
    }
    TaskState(store).apply(1, create_command("t", task_id="a", at=at()))
    assert TaskState(store).get("a").title == "t"  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------------------ model check


class TaskListModel(RuleBasedStateMachine):
    """Random command sequences against a plain list model; a twin replica that is restarted from
    orjson snapshots at random points must stay byte-identical to one that never restarts."""

    def __init__(self) -> None:
        super().__init__()
        self.model: list[dict[str, Any]] = []  # oldest first
        self.replica, self.twin = Log(), Log()
        self.sent: list[tuple[dict[str, Any], Result]] = []  # keyed commands and their first results
        self.clock = 0

    model_fields = ("id", "title", "completed", "version")

    def run(self, build: Any) -> Result:
        self.clock += 1
        command = build(at(self.clock), Idempotency(f"key-{len(self.sent)}", f"fp-{len(self.sent)}"))
        result = self.replica.apply(command)
        assert orjson.dumps(self.twin.apply(command).body) == orjson.dumps(result.body)
        self.sent.append((command, result))
        return result

    def shown(self, task_id: str) -> dict[str, Any] | None:
        """A task of the model as the API shows it, in the fields the model knows."""
        task = self.find(task_id)
        return None if task is None else dict(task)

    def replayed(self, first: Result) -> tuple[int, Any]:
        """What a retry of the write answered ``first`` gets: the tasks it showed as they are now, or
        the same body when it showed none."""
        body = shown(first.body)
        if first.status >= 300 or not ("tasks" in body or "version" in body):
            return first.status, body
        if "tasks" in body:
            now = [self.shown(task["id"]) for task in body["tasks"]]
            return first.status, {"tasks": [task for task in now if task is not None]}
        task = self.shown(body["id"])
        return (404, None) if task is None else (first.status, task)

    def find(self, task_id: str) -> dict[str, Any] | None:
        return next((task for task in self.model if task["id"] == task_id), None)

    def pick(self, data: st.DataObject) -> str:
        ids = [task["id"] for task in self.model] + ["missing"]
        return data.draw(st.sampled_from(ids))

    @rule(titles=st.lists(st.text(max_size=6), min_size=1, max_size=4))
    def create(self, titles: list[str]) -> None:
        ids = [f"task-{self.clock}-{n}" for n in range(len(titles))]
        if len(titles) == 1:
            result = self.run(lambda t, i: create_command(titles[0], task_id=ids[0], at=t, idempotency=i))
        else:
            result = self.run(lambda t, i: batch_create_command(titles, task_ids=ids, at=t, idempotency=i))
        assert result.status == 201
        self.model += [
            {"id": i, "title": t, "completed": False, "version": 1} for i, t in zip(ids, titles, strict=True)
        ]

    @rule(
        data=st.data(),
        title=st.none() | st.sampled_from(["a", "b"]),
        completed=st.none() | st.booleans(),
        stale=st.booleans(),
    )
    def update(self, data: st.DataObject, title: str | None, completed: bool | None, stale: bool) -> None:
        task_id = self.pick(data)
        task = self.find(task_id)
        changes = {f: v for f, v in (("title", title), ("completed", completed)) if v is not None}
        version = (task["version"] + 1 if stale else task["version"]) if task else None
        result = self.run(
            lambda t, i: update_command(task_id, changes, at=t, if_version=version, idempotency=i)
        )
        if task is None:
            assert result.status == 404
        elif stale:
            assert result.status == 412
        else:
            assert result.status == 200
            if any(task[f] != v for f, v in changes.items()):
                task.update(changes, version=task["version"] + 1)
            assert {f: shown(result.body)[f] for f in task} == task

    @rule(data=st.data(), use_version=st.booleans())
    def delete(self, data: st.DataObject, use_version: bool) -> None:
        task_id = self.pick(data)
        task = self.find(task_id)
        version = task["version"] if task and use_version else None
        result = self.run(lambda t, i: delete_command(task_id, at=t, if_version=version, idempotency=i))
        assert result.status == (200 if task else 404)
        self.model = [task for task in self.model if task["id"] != task_id]

    @rule()
    def clear_completed(self) -> None:
        result = self.run(lambda t, i: clear_completed_command(at=t, idempotency=i))
        assert result.body == {"deleted": sum(task["completed"] for task in self.model)}
        self.model = [task for task in self.model if not task["completed"]]

    @rule()
    def delete_all(self) -> None:
        assert self.run(lambda t, i: delete_all_command(at=t, idempotency=i)).body == {
            "deleted": len(self.model)
        }
        self.model = []

    @rule(completed=st.booleans())
    def set_all(self, completed: bool) -> None:
        result = self.run(lambda t, i: set_all_completed_command(completed, at=t, idempotency=i))
        stale = [task for task in self.model if task["completed"] != completed]
        assert result.body == {"updated": len(stale)}
        for task in stale:
            task.update(completed=completed, version=task["version"] + 1)

    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        if not self.sent:
            return
        command, first = data.draw(st.sampled_from(self.sent))
        self.clock += 1
        retried = {**command, "at": at(self.clock)}
        status, body = self.replayed(first)
        results = [log.apply(retried) for log in (self.replica, self.twin)]
        assert orjson.dumps(results[0].body) == orjson.dumps(results[1].body)
        result = results[0]
        assert result.replayed and result.status == status
        got = shown(result.body)
        if body == shown(first.body):
            assert got == body
        elif status == 404:
            assert got["error"] == "not_found" and got["id"] == shown(first.body)["id"]
        elif "tasks" in body:
            assert [{f: t[f] for f in self.model_fields} for t in got["tasks"]] == body["tasks"]
        else:
            assert {f: got[f] for f in self.model_fields} == body

    @rule()
    def restart_twin(self) -> None:
        index = self.twin.index
        self.twin.store = reloaded(self.twin.state.snapshot())
        self.twin.state = TaskState(self.twin.store)
        assert self.twin.state.applied_index == index

    @invariant()
    def visible_state_matches_the_model(self) -> None:
        listed = self.replica.state.list_tasks()[0]
        assert [
            {"id": task.id, "title": task.title, "completed": task.completed, "version": task.version}
            for task in listed
        ] == self.model[::-1]
        done = sum(task["completed"] for task in self.model)
        assert self.replica.state.counts() == {
            "total": len(self.model),
            "active": len(self.model) - done,
            "completed": done,
        }
        seqs = [task.seq for task in listed]
        assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)

    @invariant()
    def pages_cover_the_list(self) -> None:
        seen, cursor = [], None
        while True:
            page, cursor = self.replica.state.list_tasks(limit=2, cursor=cursor)
            seen += page
            if cursor is None:
                break
        assert seen == self.replica.state.list_tasks()[0]

    @invariant()
    def the_size_is_what_the_tasks_and_records_take(self) -> None:
        state = self.replica.state
        tasks = sum(map(state_module.task_size, state.list_tasks()[0]))
        assert state.size_bytes == tasks + state.idempotency_bytes == self.twin.state.size_bytes

    @invariant()
    def the_restarted_twin_has_converged(self) -> None:
        assert self.twin.state.digest() == self.replica.state.digest()
        assert orjson.dumps(self.twin.store) == orjson.dumps(self.replica.store)


TaskListModel.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
test_any_command_sequence_matches_the_model = TaskListModel.TestCase


def test_the_events_of_a_bulk_change_are_made_as_they_are_read() -> None:
    class Counted(list):
        pulled = 0

        def __iter__(self):
            for item in super().__iter__():
                Counted.pulled += 1
                yield item

    ids = Counted(["a", "b", "c"])
    changes = state_module.Changes("deleted", ids)
    assert next(iter(changes)) == TaskEvent("deleted", "a")
    assert Counted.pulled == 1, "one event made, not all of them"
    assert len(changes) == 3 and changes[1] == TaskEvent("deleted", "b")
    assert changes == tuple(TaskEvent("deleted", i) for i in ids)
    assert changes[1:] == (TaskEvent("deleted", "b"), TaskEvent("deleted", "c"))
    with pytest.raises(TypeError):
        hash(changes)
    tasks = [Task("x", "t", False, at(), at(), 1, 1)]
    assert list(state_module.Changes("updated", tasks)) == [TaskEvent("updated", "x", tasks[0])]

"""The import command of the task state machine: it creates the tasks it is given, exactly as given,
skips every id already present, is all or nothing when malformed, and is deterministic."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from todonode.state import Task, TaskEvent, TaskState, create_command, import_command, update_command

from .test_state import Log, at, reloaded


def task(task_id: str, title: str = "t", **fields: Any) -> dict[str, Any]:
    return {
        "id": task_id,
        "title": title,
        "completed": False,
        "created_at": "2025-01-02T03:04:05.006Z",
        "updated_at": "2025-01-02T03:04:05.006Z",
        "version": 1,
        **fields,
    }


@pytest.fixture
def log() -> Log:
    return Log()


def test_import_creates_tasks_with_every_given_field_and_a_seq_in_order(log: Log) -> None:
    log.create("already here", "x")
    given = [
        task("a", "first", completed=True, updated_at="2025-02-03T04:05:06.789Z", version=4),
        task("b", "second"),
    ]
    result = log.apply(import_command(given, at=at()))
    assert result.status == 200 and result.body == {"created": 2, "skipped": 0}
    stored = [log.state.get("a"), log.state.get("b")]
    assert stored == [Task(**given[0], seq=2), Task(**given[1], seq=3)]
    assert list(result.events) == [TaskEvent("created", t.id, t) for t in stored]  # type: ignore[union-attr]
    assert log.state.counts() == {"total": 3, "active": 2, "completed": 1}


def test_import_skips_every_id_already_present_and_leaves_it_as_it_is(log: Log) -> None:
    log.create("mine", "a")
    log.apply(update_command("a", {"completed": True}, at=at(1)))
    before = log.state.get("a")
    result = log.apply(import_command([task("a", "theirs"), task("b")], at=at(2)))
    assert result.body == {"created": 1, "skipped": 1}
    assert log.state.get("a") is before
    assert [event.id for event in result.events] == ["b"]


def test_an_id_repeated_within_one_import_is_created_once_from_its_first_line(log: Log) -> None:
    result = log.apply(import_command([task("a", "one"), task("a", "two")], at=at()))
    assert result.body == {"created": 1, "skipped": 1}
    assert log.state.get("a").title == "one"  # type: ignore[union-attr]


def test_an_import_applied_again_creates_nothing(log: Log) -> None:
    chunk = import_command([task("a"), task("b", completed=True)], at=at())
    log.apply(chunk)
    state_after_first = orjson.dumps(log.store["tasks"])
    again = log.apply(chunk)
    assert again.body == {"created": 0, "skipped": 2} and not again.events
    assert orjson.dumps(log.store["tasks"]) == state_after_first
    assert log.state.counts() == {"total": 2, "active": 1, "completed": 1}


def test_an_interrupted_import_run_again_from_the_start_gives_each_task_once(log: Log) -> None:
    tasks = [task(f"id-{n}", f"task {n}", completed=n % 3 == 0) for n in range(10)]
    chunks = [tasks[i : i + 3] for i in range(0, len(tasks), 3)]
    for chunk in chunks[:2]:  # cut short after two chunks
        log.apply(import_command(chunk, at=at()))
    results = [log.apply(import_command(chunk, at=at())) for chunk in chunks]
    assert sum(r.body["created"] for r in results) == 4 and sum(r.body["skipped"] for r in results) == 6
    stored = sorted(log.store["tasks"].values(), key=lambda t: t.seq)
    assert stored == [Task(**given, seq=n) for n, given in enumerate(tasks, start=1)]


@pytest.mark.parametrize(
    "items",
    [
        None,
        [],
        {"id": "a"},
        ["a"],
        [task("a"), task("", "no id")],
        [task("a"), task("b", title=None)],
        [task("a"), task("b", completed="true")],
        [task("a"), task("b", completed=1)],
        [task("a"), task("b", created_at="2025-01-02T03:04:05Z")],
        [task("a"), task("b", updated_at="2025-02-30T03:04:05.006Z")],
        [task("a"), task("b", version=0)],
        [task("a"), task("b", version=True)],
        [task("a"), task("b", version=1.0)],
        [task("a"), {k: v for k, v in task("b").items() if k != "updated_at"}],
    ],
)
def test_a_malformed_import_is_refused_whole_and_changes_nothing(log: Log, items: Any) -> None:
    log.create("t", "exists")
    before = orjson.dumps(log.store["tasks"])
    result = log.apply({"op": "import_tasks", "at": at(), "items": items})
    assert result.status == 400 and result.body["error"] == "invalid_command"
    assert orjson.dumps(log.store["tasks"]) == before
    assert log.state.counts()["total"] == 1


def test_replicas_that_apply_the_same_imports_hold_identical_state() -> None:
    commands = [
        create_command("local", task_id="a", at=at(0)),
        import_command([task("a"), task("b", completed=True), task("c")], at=at(1)),
        update_command("c", {"title": "changed"}, at=at(2)),
        import_command([task("c"), task("d", version=9)], at=at(3)),
    ]
    replicas = [Log(), Log()]
    for command in commands:
        bodies = [r.apply(orjson.loads(orjson.dumps(command))).body for r in replicas]
        assert bodies[0] == bodies[1]
    assert orjson.dumps(replicas[0].store) == orjson.dumps(replicas[1].store)
    assert replicas[0].state.digest() == replicas[1].state.digest()


def test_imported_tasks_survive_a_snapshot_with_their_counters() -> None:
    log = Log()
    log.apply(import_command([task("a", completed=True), task("b", "a longer title")], at=at()))
    copy = TaskState(reloaded(log.store))
    assert copy.counts() == log.state.counts()
    assert copy.size_bytes == log.state.size_bytes
    assert copy.list_tasks() == log.state.list_tasks()


def test_the_builder_keeps_only_the_fields_an_import_sets() -> None:
    command = import_command([{**task("a"), "seq": 7}], at=at())
    assert command["op"] == "import_tasks" and command["items"] == [task("a")]
    assert orjson.loads(orjson.dumps(command)) == command

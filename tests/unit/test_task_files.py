"""The import client's own logic (task_files.py): chunks within both limits, a chunk retried with one
key while the cluster cannot take it yet and never for a refusal, the limits read from the schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from todonode import task_files
from todonode.client import ClientError, TransientError
from todonode.task_files import Limits, chunks, read_tasks, send_chunk

LIMITS = Limits(max_title_chars=500, max_batch=1000, max_body_bytes=1024 * 1024)


def task(n: int, title: str = "t") -> dict[str, Any]:
    return {
        "id": f"{n:08x}-8a4d-4f7a-9b2c-5d6e7f8a9b0c",
        "title": title,
        "completed": False,
        "created_at": "2026-12-01T15:08:26.002Z",
        "updated_at": "2026-12-01T15:08:26.002Z",
        "version": 1,
    }


def test_chunks_keep_the_order_and_stay_within_the_count_and_the_bytes() -> None:
    tasks = [task(n, "x" * (n % 300)) for n in range(2000)]
    made = list(chunks(tasks, 70, 8000))
    assert [t for chunk in made for t in chunk] == tasks
    assert all(1 <= len(chunk) <= 70 for chunk in made)
    assert all(len(json.dumps({"tasks": chunk})) <= 8000 for chunk in made)


def test_a_task_larger_than_the_byte_budget_still_goes_alone() -> None:
    assert list(chunks([task(1, "x" * 100), task(2)], 10, 50)) == [[task(1, "x" * 100)], [task(2)]]


class FakeClient:
    def __init__(self, *failures: ClientError) -> None:
        self.failures = list(failures)
        self.keys: list[str | None] = []

    def call(self, method: str, path: str, body: Any = None, **options: Any) -> Any:
        assert (method, path, options["retry"]) == ("POST", "/tasks/import", True)
        self.keys.append(options["key"])
        if self.failures:
            raise self.failures.pop(0)
        return {"created": len(body["tasks"]), "skipped": 0}


def test_a_chunk_is_sent_again_with_the_same_key_until_the_cluster_takes_it(monkeypatch) -> None:
    monkeypatch.setattr(task_files, "RETRY_PAUSE_S", 0)
    client = FakeClient(TransientError("no leader"), ClientError("no quorum", code="no_quorum"))
    answer = send_chunk(client, [task(1)], retry_for=60)  # type: ignore[arg-type]
    assert answer == {"created": 1, "skipped": 0}
    assert len(client.keys) == 3 and len(set(client.keys)) == 1 and client.keys[0]


def test_a_refusal_is_not_retried(monkeypatch) -> None:
    monkeypatch.setattr(task_files, "RETRY_PAUSE_S", 0)
    client = FakeClient(ClientError("too old", code="cluster_version_too_old"))
    with pytest.raises(ClientError, match="too old"):
        send_chunk(client, [task(1)], retry_for=60)  # type: ignore[arg-type]
    assert len(client.keys) == 1


def test_a_chunk_the_cluster_cannot_take_in_time_says_to_run_the_import_again(monkeypatch) -> None:
    monkeypatch.setattr(task_files, "RETRY_PAUSE_S", 0)
    client = FakeClient(*[TransientError("cannot reach the node")] * 3)
    with pytest.raises(ClientError, match="run the same import again to finish it: nothing is duplicated"):
        send_chunk(client, [task(1)], retry_for=0)  # type: ignore[arg-type]


def test_lines_are_read_with_seq_dropped_and_titles_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text(json.dumps({**task(1, " padded "), "seq": 9}) + "\n" + json.dumps(task(2)) + "\n")
    assert read_tasks(path, LIMITS) == [task(1, "padded"), task(2)]


def test_the_node_limits_apply_to_the_lines(tmp_path: Path, capsys) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text(json.dumps(task(1, "x" * 11)) + "\n")
    with pytest.raises(ClientError, match="1 wrong line"):
        read_tasks(path, Limits(max_title_chars=10, max_batch=5, max_body_bytes=1000))
    assert capsys.readouterr().err == f"{path}:1: title must be 1 to 10 characters after trimming\n"


def test_a_line_with_a_bad_seq_or_an_unknown_field_is_wrong(tmp_path: Path, capsys) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text(
        json.dumps({**task(1), "seq": 0}) + "\n" + json.dumps({**task(2), "owner": "me"}) + "\n[]\n"
    )
    with pytest.raises(ClientError, match="3 wrong line"):
        read_tasks(path, LIMITS)
    assert capsys.readouterr().err.splitlines() == [
        f"{path}:1: seq must be a whole number, at least 1",
        f"{path}:2: owner is not a field of this request; GET /openapi.json lists them",
        f"{path}:3: not a JSON object: each line is one task",
    ]


def test_an_empty_file_has_nothing_to_import(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    with pytest.raises(ClientError, match="holds no tasks"):
        read_tasks(path, LIMITS)

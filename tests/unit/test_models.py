"""The API's types: bodies, query parameters and headers are refused with the right field and status, and
the title's regular expression (what /openapi.json publishes) says exactly what the server accepts."""

from __future__ import annotations

import re
import sys
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from todonode.api import models
from todonode.errors import Validation

TYPES = models.request_types(500, 1000)


def refusal(call: Any, *args: Any) -> tuple[str, int]:
    with pytest.raises(Validation) as refused:
        call(*args)
    body = refused.value.body()
    assert body["error"] == "validation_error" and body["message"], body
    return body["field"], refused.value.status


def the_rule(value: str, max_chars: int) -> bool:
    """The title rule in plain Python: no C1 control or bidirectional override anywhere; trimmed,
    1..max_chars characters, no control characters."""
    if re.search("[\x80-\x9f\u202a-\u202e\u2066-\u2069]", value):
        return False
    title = value.strip()
    return 1 <= len(title) <= max_chars and not re.search(r"[\x00-\x1f\x7f]", title)


# ------------------------------------------------------------------------------------------------ titles


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (None, 400),
        (3, 400),
        (["a"], 400),
        ("", 422),
        ("   \t ", 422),
        ("x" * 501, 422),
        ("a\x00b", 422),
        ("line\nbreak", 422),
        ("a\x1fb", 422),
        ("a\x7fb", 422),
        ("a\x85b", 422),
        ("a\x9b31mb", 422),
        ("a\u202eb", 422),
        ("\u2066ab", 422),
        ("ab\x85", 422),
    ],
)
def test_bad_titles_are_refused_with_a_consistent_status(value: Any, status: int) -> None:
    assert refusal(TYPES.create_title, {"title": value}) == ("title", status)


def test_titles_are_trimmed_and_may_be_exactly_the_limit() -> None:
    assert TYPES.create_title({"title": "  hi \n"}) == "hi"
    assert TYPES.create_title({"title": " " + "é" * 500 + " "}) == "é" * 500
    small = models.request_types(4, 2)
    assert small.create_title({"title": "abcd"}) == "abcd"
    assert refusal(small.create_title, {"title": "abcde"}) == ("title", 422)


@pytest.mark.parametrize(
    "title",
    [
        "👩\u200d💻 ship it",
        "❤\ufe0f",
        "👨\u200d👩\u200d👧\u200d👦",
        "\u05e9\u05dc\u05d5\u05dd \u200f!",
        "Ti\u1ebfng Vi\u1ec7t",
    ],
)
def test_emoji_sequences_and_marks_are_accepted(title: str) -> None:
    assert TYPES.create_title({"title": title}) == title


def test_the_messages_say_what_is_wrong_with_a_title() -> None:
    with pytest.raises(Validation) as refused:
        TYPES.create_title({"title": "   "})
    assert refused.value.message == "title must be 1 to 500 characters after trimming"
    with pytest.raises(Validation) as refused:
        TYPES.create_title({"title": "two\nlines"})
    assert refused.value.message == "title must not contain control characters such as newlines"
    with pytest.raises(Validation) as refused:
        TYPES.batch_titles({"tasks": [{"title": "ok"}, {"title": "evil\u202etxt.exe"}]})
    assert refused.value.body()["field"] == "tasks[1].title"
    assert "bidirectional overrides" in refused.value.message


def test_the_whitespace_class_is_exactly_what_python_strips() -> None:
    spelled = re.compile(f"[{models.WHITESPACE}]")
    assert {c for c in map(chr, range(sys.maxunicode + 1)) if spelled.fullmatch(c)} == {
        c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()
    }


def test_what_may_surround_a_title_is_whitespace_without_the_c1_control_nel() -> None:
    spelled = re.compile(f"[{models.SURROUNDING}]")
    assert {c for c in map(chr, range(sys.maxunicode + 1)) if spelled.fullmatch(c)} == {
        c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()
    } - {"\x85"}


TRICKY = [
    *("a", "é", " ", "\t", "\n", "\x00", "\x1c", "\x7f", "\x85", "\x9f", "\u3000", "\ufeff", "😀"),
    *("\u200d", "\ufe0f", "\u202a", "\u202e", "\u2066", "\u2069", "\u200f"),
]


@pytest.mark.parametrize("max_chars", [1, 2, 3, 500])
@given(value=st.text(st.sampled_from(TRICKY), max_size=8) | st.text(max_size=20))
def test_the_title_pattern_matches_exactly_the_titles_the_rule_accepts(max_chars: int, value: str) -> None:
    matches = re.search(models.title_pattern(max_chars), value) is not None
    assert matches == the_rule(value, max_chars)


def test_the_title_pattern_at_its_length_limit() -> None:
    pattern = re.compile(models.title_pattern(3))
    assert pattern.search(" abc ") and pattern.search("a c") and pattern.search("a")
    assert not pattern.search("abcd") and not pattern.search(" a\tc ")


# ------------------------------------------------------------------------------------------------ bodies


def test_create_and_batch_bodies() -> None:
    assert TYPES.create_title({"title": " a "}) == "a"
    assert TYPES.batch_titles({"tasks": [{"title": "a"}, {"title": " b"}]}) == ["a", "b"]
    small = models.request_types(500, 2)
    for call, body, field, status in [
        (TYPES.create_title, [], "body", 400),
        (TYPES.create_title, {}, "title", 400),
        (small.batch_titles, {"tasks": "a"}, "tasks", 400),
        (small.batch_titles, {"tasks": []}, "tasks", 422),
        (small.batch_titles, {"tasks": [{"title": "a"}] * 3}, "tasks", 422),
        (small.batch_titles, {"tasks": ["a"]}, "tasks[0]", 400),
        (small.batch_titles, {"tasks": [{}]}, "tasks[0].title", 400),
        (TYPES.create_title, {"title": "a", "other": 1}, "other", 400),
        (small.batch_titles, {"tasks": [{"title": "a", "due": "today"}]}, "tasks[0].due", 400),
        (small.batch_titles, {"tasks": [{"title": "a"}], "atomic": False}, "atomic", 400),
    ]:
        assert refusal(call, body) == (field, status), body


def test_one_bad_item_refuses_the_whole_batch_naming_it() -> None:
    body = {"tasks": [{"title": "ok"}, {"title": "  "}, {"title": "ok"}]}
    assert refusal(TYPES.batch_titles, body) == ("tasks[1].title", 422)


def test_completed_on_a_new_task_is_refused_naming_it_never_dropped() -> None:
    for call, body, field in [
        (TYPES.create_title, {"title": "a", "completed": True}, "completed"),
        (TYPES.create_title, {"title": "a", "completed": False}, "completed"),
        (
            TYPES.batch_titles,
            {"tasks": [{"title": "a"}, {"title": "b", "completed": True}]},
            "tasks[1].completed",
        ),
    ]:
        with pytest.raises(Validation) as refused:
            call(body)
        assert (refused.value.body()["field"], refused.value.status) == (field, 400)
        assert "every task starts active" in refused.value.message


def test_every_request_type_publishes_that_it_takes_no_other_fields() -> None:
    for name in ("TaskCreate", "TaskBatch", "SetAllCompleted", "TransferLeader"):
        kind = getattr(TYPES, name)
        schema = msgspec.json.schema(kind)
        assert schema["$defs"][kind.__name__]["additionalProperties"] is False, name


def test_update_and_set_all_bodies() -> None:
    assert TYPES.update_changes({"title": " a "}) == {"title": "a"}
    assert TYPES.update_changes({"completed": False}) == {"completed": False}
    assert TYPES.set_all_completed({"completed": True}) is True
    for call, body, field in [
        (TYPES.update_changes, {}, "body"),
        (TYPES.update_changes, {"done": True}, "done"),
        (TYPES.update_changes, {"title": "a", "version": 3}, "version"),
        (TYPES.set_all_completed, {"completed": True, "only": "active"}, "only"),
        (TYPES.transfer_target, {"node": "node4001", "force": True}, "force"),
        (TYPES.update_changes, {"completed": 1}, "completed"),
        (TYPES.update_changes, {"completed": "true"}, "completed"),
        (TYPES.update_changes, "x", "body"),
        (TYPES.set_all_completed, {}, "completed"),
        (TYPES.set_all_completed, {"completed": None}, "completed"),
        (TYPES.transfer_target, {}, "node"),
        (TYPES.transfer_target, {"node": 4001}, "node"),
    ]:
        assert refusal(call, body) == (field, 400), body


# ------------------------------------------------------------------------------------- query and headers


def test_query_parameters_are_400_when_unreadable_and_422_when_out_of_range() -> None:
    assert models.LIMIT.parse({"limit": "1000"}) == 1000
    assert models.LIMIT.parse({}) is None
    assert refusal(models.LIMIT.parse, {"limit": "1001"}) == ("limit", 422)
    assert refusal(models.LIMIT.parse, {"limit": "-1"}) == ("limit", 400)
    assert refusal(models.LIMIT.parse, {"limit": "٥"}) == ("limit", 400)
    assert refusal(models.CURSOR.parse, {"cursor": "0"}) == ("cursor", 422)
    assert refusal(models.MIN_INDEX.parse, {"min_index": "9" * 19}) == ("min_index", 400)
    assert models.COMPLETED.parse({"completed": "false"}) is False
    assert refusal(models.COMPLETED.parse, {"completed": "True"}) == ("completed", 400)
    assert refusal(models.CONSISTENCY.parse, {"consistency": "linearizable"}) == ("consistency", 400)


def test_idempotency_key_length_and_characters() -> None:
    assert models.IDEMPOTENCY_KEY.parse({"Idempotency-Key": "k" * 255}) == "k" * 255
    for bad in ("", "k" * 256, "a\nb", "clé"):
        assert refusal(models.IDEMPOTENCY_KEY.parse, {"Idempotency-Key": bad}) == ("Idempotency-Key", 422)


def test_etag_is_the_strong_quoted_version_and_if_match_reads_it_back() -> None:
    assert models.etag(1) == '"1"'
    assert models.IF_MATCH.parse({"If-Match": models.etag(1)}) == 1
    assert models.IF_MATCH.parse({"If-Match": ' "12" '}) == 12
    assert models.IF_MATCH.parse({}) is None
    assert models.IF_MATCH.parse({"If-Match": "*"}) is None
    assert models.IF_MATCH.parse({"If-Match": "7"}) == 7  # the quotes left out: still only one meaning
    for bad in ('W/"1"', '"1', '"a"', '"1", "2"', "", "1 2"):
        assert refusal(models.IF_MATCH.parse, {"If-Match": bad}) == ("If-Match", 400)


@given(st.text(st.sampled_from(['"', "1", "2", "*", " ", "\t", "W", "/", "a"]), max_size=6))
def test_if_match_is_read_exactly_when_the_published_pattern_matches(value: str) -> None:
    matches = re.fullmatch(models.IF_MATCH.pattern, value) is not None
    try:
        version = models.IF_MATCH.parse({"If-Match": value})
    except Validation:
        assert not matches
        return
    assert matches
    assert version == (None if value.strip(" \t") == "*" else int(value.strip(' \t"')))

"""The terminal client never hands a terminal a character it would obey or hide: controls, C1 codes,
bidirectional overrides and other format characters in what a node sends are printed escaped, in
titles, tables, JSON and error messages; emoji joiners and ordinary text are printed as they are."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from todonode import client

HOSTILE = (
    "\x1b]0;pwned\x07 clear\x1b[2J csi\x9b2J nel\x85 gpj.\u202eexe \u2066iso\u2069 tag\U000e0001 two\nlines"
)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Buy milk", "Buy milk"),
        ("Tiếng Việt ✓", "Tiếng Việt ✓"),
        ("👩\u200d💻 ship ❤\ufe0f", "👩\u200d💻 ship ❤\ufe0f"),
        ("a\x1b[2Jb", "a\\u001b[2Jb"),
        ("x\x85y\x9b", "x\\u0085y\\u009b"),
        ("gpj.\u202eexe", "gpj.\\u202eexe"),
        ("tag\U000e0001", "tag\\udb40\\udc01"),
        ("two\nlines", "two\\u000alines"),
    ],
)
def test_escaped_shows_every_invisible_character_as_its_escape(text: str, shown: str) -> None:
    assert client.escaped(text) == shown


def test_json_output_stays_json_with_the_same_strings() -> None:
    text = json.dumps({"title": HOSTILE}, indent=2, ensure_ascii=False)
    safe = client.printable(text)
    assert safe.isprintable() or all(line.isprintable() for line in safe.split("\n") if "\u200d" not in line)
    assert json.loads(safe) == {"title": HOSTILE}


class Node:
    """Stands in for a cluster that answers with hostile titles and messages."""

    def __init__(self, tasks: list[dict[str, Any]]) -> None:
        self.tasks = tasks

    def call(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        if method == "GET" and path.startswith("/tasks?"):
            return {"tasks": self.tasks, "next_cursor": None}
        raise client.ClientError(f"refused \x1b[31m{HOSTILE}")


def run(monkeypatch, capsys, node: Node, **options: Any) -> tuple[list[str], str]:
    printed: list[str] = []
    monkeypatch.setattr(client, "_client", lambda args: node)
    args = argparse.Namespace(**{"completed": False, "active": False, "json": False, **options})
    status = client.run(args, printed.append)
    return "\n".join(printed).split("\n"), f"{status}: {capsys.readouterr().err}"


def test_tasks_list_prints_hostile_titles_escaped(monkeypatch, capsys) -> None:
    task = {"id": "abcdef12-0000", "title": HOSTILE, "completed": False}
    lines, _ = run(monkeypatch, capsys, Node([task]), run=client._list)
    assert len(lines) == 2 and all(line.isprintable() for line in lines), lines
    assert lines[0].startswith("abcdef12  [ ] \\u001b]0;pwned\\u0007 clear")
    lines, _ = run(monkeypatch, capsys, Node([task]), run=client._list, **{"json": True})
    assert all(line.isprintable() for line in lines)
    assert json.loads("\n".join(lines))[0]["title"] == HOSTILE


def test_an_error_message_from_a_node_is_printed_escaped(monkeypatch, capsys) -> None:
    task = {"id": "abcdef12-0000", "title": "t", "completed": False}
    _, err = run(monkeypatch, capsys, Node([task]), run=client._done, id="abcd", undo=False)
    status, message = err.split(": ", 1)
    assert status == "1" and message.rstrip("\n").isprintable() and "\\u001b[31m" in message

"""Why the node copies orjson's output before keeping it in the log (node.facade.exact_copy)."""

from __future__ import annotations

import tracemalloc

import orjson

from todonode.node.facade import exact_copy as _exact

COMMAND = {"op": "create", "at": "2026-11-27T01:02:03.456Z", "id": "a" * 32, "title": "buy milk"}


def _retained_per_object(make) -> float:
    tracemalloc.start()
    try:
        kept = [make() for _ in range(1000)]
        size = tracemalloc.get_traced_memory()[0] - 8 * len(kept)  # minus the list itself
    finally:
        tracemalloc.stop()
    return size / len(kept)


def test_a_kept_command_costs_its_length_not_orjsons_working_buffer():
    length = len(orjson.dumps(COMMAND))
    exact = _retained_per_object(lambda: _exact(orjson.dumps(COMMAND)))
    assert exact < length + 64
    assert _exact(orjson.dumps(COMMAND)) == orjson.dumps(COMMAND)

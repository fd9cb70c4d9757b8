"""Any sequence of API calls leaves the visible list exactly as a plain in-memory model says.

Each run of the state machine gets a fresh one-node cluster on its own event loop; every rule is one
HTTP request, and after every rule the list (whole, filtered and paged) is compared with the model.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from .conftest import load, serve, write_config

# Titles as people type them: surrounding spaces are trimmed; control characters are refused (tested
# elsewhere), so they are left out here.
TITLES = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12).filter(str.strip)


class TaskApiMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.root = Path(tempfile.mkdtemp(prefix="todonode-model-"))
        self.serving = serve(load(write_config(self.root)))
        self.client = self.run(self.serving.__aenter__())
        # The model: newest first, as GET /tasks lists them.
        self.tasks: list[dict[str, Any]] = []

    def teardown(self) -> None:
        try:
            self.run(self.serving.__aexit__(None, None, None))
        finally:
            self.loop.close()
            shutil.rmtree(self.root, ignore_errors=True)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        async def go() -> Any:
            resp = await self.client.request(method, path, json=body)
            payload = await resp.json()
            assert resp.status == status, (method, path, body, resp.status, payload)
            return payload

        return self.run(go())

    def pick(self, data: st.DataObject) -> dict[str, Any]:
        return self.tasks[data.draw(st.integers(0, len(self.tasks) - 1), label="task")]

    # ------------------------------------------------------------------------------------------ rules

    @rule(title=TITLES)
    def create(self, title: str) -> None:
        task = self.call("POST", "/tasks", {"title": title}, 201)
        self.tasks.insert(0, {"id": task["id"], "title": title.strip(), "completed": False, "version": 1})

    @rule(titles=st.lists(TITLES, min_size=1, max_size=5))
    def batch(self, titles: list[str]) -> None:
        created = self.call("POST", "/tasks/batch", {"tasks": [{"title": t} for t in titles]}, 201)["tasks"]
        for task, title in zip(created, titles, strict=True):
            self.tasks.insert(0, {"id": task["id"], "title": title.strip(), "completed": False, "version": 1})

    @rule(title=TITLES, method=st.sampled_from(["PUT", "PATCH"]), data=st.data())
    @precondition(lambda self: self.tasks)
    def rename(self, title: str, method: str, data: st.DataObject) -> None:
        self.change(self.pick(data), {"title": title}, {"title": title.strip()}, method)

    @rule(completed=st.booleans(), data=st.data())
    @precondition(lambda self: self.tasks)
    def set_completed(self, completed: bool, data: st.DataObject) -> None:
        self.change(self.pick(data), {"completed": completed}, {"completed": completed}, "PATCH")

    def change(self, task: dict[str, Any], body: dict[str, Any], new: dict[str, Any], method: str) -> None:
        answer = self.call(method, f"/tasks/{task['id']}", body)
        if any(task[k] != v for k, v in new.items()):
            task.update(new, version=task["version"] + 1)
        assert answer == {**answer, **task}

    @rule(data=st.data())
    @precondition(lambda self: self.tasks)
    def delete(self, data: st.DataObject) -> None:
        task = self.pick(data)
        self.call("DELETE", f"/tasks/{task['id']}")
        self.tasks.remove(task)
        self.call("DELETE", f"/tasks/{task['id']}", status=404)

    @rule()
    def clear_completed(self) -> None:
        done = [t for t in self.tasks if t["completed"]]
        assert self.call("DELETE", "/tasks?completed=true") == {"deleted": len(done)}
        self.tasks = [t for t in self.tasks if not t["completed"]]

    @rule()
    def delete_all(self) -> None:
        assert self.call("DELETE", "/tasks?all=true") == {"deleted": len(self.tasks)}
        self.tasks = []

    @rule(completed=st.booleans())
    def toggle_all(self, completed: bool) -> None:
        stale = [t for t in self.tasks if t["completed"] != completed]
        assert self.call("PATCH", "/tasks", {"completed": completed}) == {"updated": len(stale)}
        for task in stale:
            task.update(completed=completed, version=task["version"] + 1)

    # ------------------------------------------------------------------------------------- invariants

    def visible(self, query: str = "") -> list[dict[str, Any]]:
        return [
            {k: task[k] for k in ("id", "title", "completed", "version")}
            for task in self.call("GET", "/tasks" + query)["tasks"]
        ]

    @invariant()
    def the_list_is_the_model(self) -> None:
        assert self.visible() == self.tasks

    @invariant()
    def the_filters_split_the_model(self) -> None:
        assert self.visible("?completed=true") == [t for t in self.tasks if t["completed"]]
        assert self.visible("?completed=false") == [t for t in self.tasks if not t["completed"]]

    @invariant()
    def pages_of_two_add_up_to_the_model(self) -> None:
        seen, query = [], "?limit=2"
        while True:
            page = self.call("GET", "/tasks" + query)
            seen += [t["id"] for t in page["tasks"]]
            if page["next_cursor"] is None:
                break
            query = f"?limit=2&cursor={page['next_cursor']}"
        assert seen == [t["id"] for t in self.tasks]


TestTaskApi = TaskApiMachine.TestCase
TestTaskApi.settings = settings(max_examples=40, stateful_step_count=20, deadline=None)

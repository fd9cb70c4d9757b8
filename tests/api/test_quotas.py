"""Quotas on the list (storage.max_tasks, storage.max_bytes): a write that would pass one is refused
with 507 quota_exceeded before it reaches the log; reads, deletes and replays go on; /metrics raises
the alarm once there is no room left."""

from __future__ import annotations

from tests.api.test_tasks import create, error_of, listed

KEY = {"Idempotency-Key": "the-third-one"}


async def alarms(client) -> dict[str, str]:
    text = await (await client.get("/metrics")).text()
    lines = [line for line in text.splitlines() if line.startswith("todonode_quota_alarm{")]
    return {line.split('"')[1]: line.rsplit(" ", 1)[1] for line in lines}


async def test_the_task_quota_refuses_what_would_pass_it_and_nothing_else(make_client):
    async with make_client(storage={"max_tasks": 3}) as client:
        await create(client, "one")
        resp = await client.post(
            "/tasks/batch", json={"tasks": [{"title": "two"}, {"title": "three"}, {"title": "x"}]}
        )
        body = await error_of(resp, 507, "quota_exceeded")
        assert (body["quota"], body["used"], body["limit"]) == ("tasks", 1, 3)
        assert "Retry-After" not in resp.headers and "storage.max_tasks" in body["message"]
        await create(client, "two")
        third = await client.post("/tasks", json={"title": "three"}, headers=KEY)
        assert third.status == 201
        assert await alarms(client) == {"tasks": "1.0", "bytes": "0.0"}

        await error_of(await client.post("/tasks", json={"title": "four"}), 507, "quota_exceeded")
        # At the limit, not beyond it: what adds nothing still goes through, and so does a replay.
        assert (await client.patch("/tasks", json={"completed": True})).status == 200
        replay = await client.post("/tasks", json={"title": "three"}, headers=KEY)
        assert replay.status == 201 and replay.headers["Idempotent-Replayed"] == "true"
        assert len(await listed(client)) == 3

        assert (await client.delete("/tasks?completed=true")).status == 200
        assert await alarms(client) == {"tasks": "0.0", "bytes": "0.0"}
        await create(client, "room again")


async def test_the_byte_quota_counts_titles(make_client):
    async with make_client(storage={"max_bytes": 1000}) as client:
        small = await create(client, "short")
        long = "x" * 400
        await create(client, long)
        resp = await client.post("/tasks", json={"title": long})
        body = await error_of(resp, 507, "quota_exceeded")
        assert body["quota"] == "bytes" and body["limit"] == 1000
        # Renaming to a longer title may grow the list too: refused; a shorter one is not.
        renamed = await client.patch(f"/tasks/{small['id']}", json={"title": long})
        await error_of(renamed, 507, "quota_exceeded")
        assert (await client.patch(f"/tasks/{small['id']}", json={"title": "s"})).status == 200
        assert (await client.delete(f"/tasks/{small['id']}")).status == 200
        assert len(await listed(client)) == 1

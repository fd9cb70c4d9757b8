"""The attacks of the hostile-client suite. Each runs until ``stop`` is set, from loopback addresses of
its own, and returns what it did (``stats``) and what it found wrong (``problems``): an answer the
node should not have given, or a defence that did not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from todonode.state import IDEMPOTENCY_MAX_BYTES

from .raw import close, connect, pipelined, request, trickle
from .scene import Scene


@dataclass(frozen=True)
class Profile:
    name: str
    before_s: float  # the writer alone
    during_s: float  # the writer and the attack
    tasks: int  # in the list while the attacks run
    idle_sockets: int = 2000
    idle_addresses: int = 20
    slow_clients: int = 200
    readers: int = 20
    flooders: int = 4
    api: dict[str, Any] = field(default_factory=dict)  # the nodes' [api] settings
    timings: dict[str, Any] = field(default_factory=dict)  # the nodes' [cluster] timings


@dataclass
class Outcome:
    stats: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


Attack = Callable[[Scene, Profile, asyncio.Event], Awaitable[Outcome]]
HOLD_AGAIN_S = 0.1


def source(n: int) -> str:
    """The n-th attacker address: 127.0.0.2 and up."""
    return f"127.0.{2 + n // 250}.{2 + n % 250}"


def session(address: str) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(local_addr=(address, 0), limit=0)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))


async def until(stop: asyncio.Event, *workers: Awaitable[Any]) -> None:
    """Run ``workers`` until ``stop``; then cancel what is left."""
    tasks = [asyncio.ensure_future(w) for w in workers]
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# ------------------------------------------------------------------------------------------ the attacks


async def rebinding(scene: Scene, profile: Profile, stop: asyncio.Event) -> Outcome:
    """A web page that pointed its own name at the node, and one that writes cross-site: every
    request refused 403, nothing written, nothing deleted."""
    url, port = scene.target.url, scene.target.port
    evil = f"rebind.evil.example:{port}"
    shots = [
        ("POST", "/tasks", {"Host": evil, "Origin": f"http://{evil}"}, {"title": "rebound"}),
        ("DELETE", "/tasks?all=true", {"Host": evil, "Origin": f"http://{evil}"}, None),
        ("GET", "/tasks", {"Host": evil}, None),
        ("POST", "/tasks", {"Origin": "http://evil.example"}, {"title": "cross-site"}),
        ("DELETE", "/tasks?all=true", {"Origin": "null"}, None),
    ]
    answered: Counter[int] = Counter()

    async def page() -> None:
        async with session(source(0)) as s:
            while True:
                for method, path, headers, body in shots:
                    async with s.request(method, url + path, headers=headers, json=body) as resp:
                        answered[resp.status] += 1
                        await resp.read()

    await until(stop, *(page() for _ in range(4)))
    out = Outcome({"requests": sum(answered.values()), "answers": dict(answered)})
    if set(answered) - {403}:
        out.problems.append(f"rebinding requests answered {dict(answered)}, not all 403")
    code, body, _ = await scene.client.call("GET", f"{url}/tasks?limit=1000")
    if code != 200 or any(t["title"] in ("rebound", "cross-site") for t in body["tasks"]):
        out.problems.append("a refused write is in the list")
    return out


async def idle_sockets(scene: Scene, profile: Profile, stop: asyncio.Event) -> Outcome:
    """``idle_sockets`` connections kept open from ``idle_addresses`` addresses, half of them with a
    request head begun and never finished; each one the node closes is opened again at once."""
    closed: Counter[str] = Counter()
    opened = 0

    async def hold(n: int) -> None:
        nonlocal opened
        address = source(n % profile.idle_addresses)
        while True:
            try:
                reader, writer = await connect(scene.target.url, address)
            except OSError:
                closed["connect failed"] += 1
                await asyncio.sleep(0.1)
                continue
            opened += 1
            if n % 2:
                writer.write(b"GET /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            try:
                answer = await reader.read()
            except ConnectionError:
                answer = b""
            closed[answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "closed"] += 1
            await close(writer)
            # Held again a moment later: a client holding sockets, not one flooding the node with
            # connects (which only the kernel's and the network's limits can answer).
            await asyncio.sleep(HOLD_AGAIN_S)

    await until(stop, *(hold(n) for n in range(profile.idle_sockets)))
    return Outcome({"sockets": profile.idle_sockets, "opened": opened, "closed_by_node": dict(closed)})


async def slow_heads(scene: Scene, profile: Profile, stop: asyncio.Event) -> Outcome:
    """``slow_clients`` clients sending request heads a byte every half second, again and again."""
    return await _slowloris(scene, profile, stop, request("GET", "/tasks", "127.0.0.1", {"Accept": "*/*"}))


async def slow_bodies(scene: Scene, profile: Profile, stop: asyncio.Event) -> Outcome:
    """``slow_clients`` clients sending a write's body a byte every half second."""
    head = request("POST", "/tasks", "127.0.0.1", {"Content-Type": "application/json"}, length=1000)
    return await _slowloris(scene, profile, stop, head, body=b'{"title": "' + b"s" * 985 + b'"}')


async def _slowloris(
    scene: Scene, profile: Profile, stop: asyncio.Event, head: bytes, body: bytes | None = None
) -> Outcome:
    answers: Counter[str] = Counter()
    whole = 0

    async def client(n: int) -> None:
        nonlocal whole
        while True:
            reader, writer = await connect(scene.target.url, source(n % 10))
            answer = asyncio.ensure_future(reader.read(1 << 16))  # done with the first bytes back
            if body is not None:
                writer.write(head)
                sent = await trickle(writer, body, 0.5, answer)
                whole += sent == len(body)
            else:
                sent = await trickle(writer, head, 0.5, answer)
                whole += sent == len(head)
            with contextlib.suppress(ConnectionError):
                got = await answer
                answers[got.split(b" ", 2)[1].decode() if got.startswith(b"HTTP/") else "closed"] += 1
            await close(writer)

    await until(stop, *(client(n) for n in range(profile.slow_clients)))
    out = Outcome({"clients": profile.slow_clients, "cut_off": dict(answers), "sent_whole": whole})
    if whole:
        out.problems.append(f"{whole} slow requests were let through whole")
    return out


async def big_reads(scene: Scene, profile: Profile, stop: asyncio.Event) -> Outcome:
    """``readers`` clients reading the largest page, 1,000 tasks, at cursors all over the list."""
    statuses: Counter[int] = Counter()
    largest = 0
    size = 0
    rng = random.Random(7)

    async def reader(n: int) -> None:
        nonlocal largest, size
        async with session(source(n)) as s:
            while True:
                cursor = rng.randint(1, max(2, profile.tasks))
                async with s.get(f"{scene.target.url}/tasks?limit=1000&cursor={cursor}") as resp:
                    raw = await resp.read()
                    statuses[resp.status] += 1
                    size += len(raw)
                    if resp.status == 200:
                        largest = max(largest, len(orjson.loads(raw)["tasks"]))

    await until(stop, *(reader(n) for n in range(profile.readers)))
    out = Outcome(
        {"reads": sum(statuses.values()), "mb_read": round(size / 2**20, 1), "largest_page": largest}
    )
    if set(statuses) - {200}:
        out.problems.append(f"reads answered {dict(statuses)}")
    return out


async def future_reads(scene: Scene, profile: Profile, stop: asyncio.Event) -> Outcome:
    """Reads asking for a log index far in the future, pipelined as fast as the node answers."""
    raw = request("GET", f"/tasks?min_index={10**17}", f"127.0.0.1:{scene.target.port}")
    answered: Counter[int] = Counter()

    async def flood() -> None:
        while True:
            answered.update(await pipelined(scene.target.url, raw, 2000, connections=2))

    await until(stop, flood())
    out = Outcome({"requests": sum(answered.values()), "answers": dict(answered)})
    if set(answered) - {400}:
        out.problems.append(f"future reads answered {dict(answered)}, not all 400")
    return out


async def keyed_writes(scene: Scene, profile: Profile, stop: asyncio.Event) -> Outcome:
    """Writes with a new Idempotency-Key each: batches of 1,000 tasks each followed by a delete of
    everything, and single creates, from ``flooders`` clients each. The idempotency table keeps ids,
    not bodies, within its byte budget."""
    answered: Counter[str] = Counter()
    url = scene.target.url

    async def keyed(s: aiohttp.ClientSession, method: str, path: str, body: Any = None) -> None:
        async with s.request(
            method, url + path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
        ) as resp:
            answered[f"{method} {path.split('?')[0]} {resp.status}"] += 1
            await resp.read()

    async def batches(n: int) -> None:
        tasks = {"tasks": [{"title": f"flood {i} " + "x" * 40} for i in range(1000)]}
        async with session(source(n)) as s:
            while True:
                await keyed(s, "POST", "/tasks/batch", tasks)
                await keyed(s, "DELETE", "/tasks?all=true")

    async def singles(n: int) -> None:
        async with session(source(100 + n)) as s:
            while True:
                await keyed(s, "POST", "/tasks", {"title": "flood"})

    await until(
        stop, *(batches(n) for n in range(profile.flooders)), *(singles(n) for n in range(profile.flooders))
    )
    metrics = await scene.metrics()
    table = metrics.get("todonode_idempotency_bytes", 0)
    out = Outcome({"writes": dict(answered), "idempotency_mb": round(table / 2**20, 2)})
    if table > IDEMPOTENCY_MAX_BYTES:
        out.problems.append(f"the idempotency table holds {table:.0f} bytes, over {IDEMPOTENCY_MAX_BYTES}")
    if any(not key.endswith((" 200", " 201")) for key in answered):
        out.problems.append(f"keyed writes answered {dict(answered)}")
    return out


ATTACKS: dict[str, Attack] = {
    "rebinding": rebinding,
    "idle sockets": idle_sockets,
    "slowloris headers": slow_heads,
    "slowloris bodies": slow_bodies,
    "max-size reads": big_reads,
    "future min_index reads": future_reads,
    "keyed-write flood": keyed_writes,
}

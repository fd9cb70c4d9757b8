"""A snapshot sent in chunks arrives whole and intact, or not at all: the chunk frames, the sender's
reading of the file, and the receiver's reassembly (node/snapshot_inbox.py)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from todonode.node.snapshot_inbox import SnapshotInbox, TransferRefused
from todonode.raft import ClusterConfig, InstallSnapshot, Snapshot, SnapshotMeta, WireError
from todonode.snapshot_chunks import (
    MAX_CHUNK_BYTES,
    Chunk,
    OutgoingSnapshot,
    decode_chunk,
    encode_chunk,
    is_chunk_frame,
)
from todonode.storage import SnapshotStore

META = SnapshotMeta(index=40, term=3, config=ClusterConfig(voters=("a", "b", "c")))
DATA = bytes(range(256)) * 40  # 10,240 bytes


def message(term: int = 3, meta: SnapshotMeta = META) -> InstallSnapshot:
    return InstallSnapshot(term=term, src="a", dst="b", snapshot=Snapshot(meta, b""))


async def frames_of(path: Path, chunk_bytes: int, term: int = 3) -> list[bytes]:
    outgoing = OutgoingSnapshot(message(term), path, chunk_bytes)
    frames = []
    while (frame := await outgoing.next_frame()) is not None:
        frames.append(frame)
    outgoing.close()
    return frames


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "leader" / "snap.json"
    path.parent.mkdir()
    path.write_bytes(DATA)
    return path


@pytest.fixture
def inbox_dir(tmp_path: Path) -> Path:
    return tmp_path / "follower"


def inbox(directory: Path, max_bytes: int = 1 << 20) -> SnapshotInbox:
    return SnapshotInbox(SnapshotStore(directory), max_bytes)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# ------------------------------------------------------------------------------------------ frames


def test_a_chunk_frame_decodes_to_the_chunk_it_was_made_from() -> None:
    chunk = Chunk("t1", 3, "a", "b", META, 100, 40, b"x" * 60, "")
    frame = encode_chunk(chunk)
    assert is_chunk_frame(frame) and not is_chunk_frame(b'{"messages": []}')
    assert decode_chunk(frame) == chunk
    assert chunk.last


@pytest.mark.parametrize(
    "chunk",
    [
        Chunk("t1", 3, "a", "b", META, 50, 40, b"x" * 60, ""),  # runs past the announced size
        Chunk("", 3, "a", "b", META, 100, 0, b"x", ""),  # no transfer id
        Chunk("t1", 3, "a", "b", META, 2 * MAX_CHUNK_BYTES, 0, b"x" * (MAX_CHUNK_BYTES + 1), ""),
    ],
)
def test_a_chunk_out_of_bounds_is_refused_on_decoding(chunk: Chunk) -> None:
    with pytest.raises(WireError):
        decode_chunk(encode_chunk(chunk))


@pytest.mark.parametrize(
    "frame", [b"\x00", b"\x00\x00\x00\x00\x05{}", b"\x00\xff\xff\xff\xff{}", b"\x00\x00\x00\x00\x02[]"]
)
def test_a_malformed_chunk_frame_is_a_wire_error(frame: bytes) -> None:
    with pytest.raises(WireError):
        decode_chunk(frame)


# ---------------------------------------------------------------------------------------- the sender


async def test_the_sender_reads_the_file_in_chunks_and_signs_the_last(source: Path) -> None:
    chunks = [decode_chunk(f) for f in await frames_of(source, 4096)]
    assert [c.offset for c in chunks] == [0, 4096, 8192]
    assert [len(c.data) for c in chunks] == [4096, 4096, 2048]
    assert b"".join(c.data for c in chunks) == DATA
    assert [c.digest for c in chunks] == ["", "", hashlib.sha256(DATA).hexdigest()]
    assert len({c.transfer for c in chunks}) == 1


async def test_a_restarted_transfer_is_a_new_one_from_the_start(source: Path) -> None:
    outgoing = OutgoingSnapshot(message(), source, 4096)
    first = decode_chunk(await outgoing.next_frame() or b"")
    outgoing.restart()
    again = decode_chunk(await outgoing.next_frame() or b"")
    outgoing.close()
    assert (again.offset, again.data) == (0, first.data)
    assert again.transfer != first.transfer


async def test_a_transfer_goes_on_after_its_file_is_replaced(source: Path) -> None:
    outgoing = OutgoingSnapshot(message(), source, 4096)
    frames = [await outgoing.next_frame()]
    source.unlink()  # two newer snapshots were taken meanwhile
    while (frame := await outgoing.next_frame()) is not None:
        frames.append(frame)
    assert b"".join(decode_chunk(f or b"").data for f in frames) == DATA


# -------------------------------------------------------------------------------------- the receiver


async def test_chunks_in_order_give_the_whole_file(source: Path, inbox_dir: Path) -> None:
    box = inbox(inbox_dir)
    results = [await box.accept("a", decode_chunk(f)) for f in await frames_of(source, 1000)]
    assert results[:-1] == [None] * 10
    received = results[-1]
    assert received is not None
    assert (received.meta, received.term, received.size, received.chunks) == (META, 3, len(DATA), 11)
    assert received.path.read_bytes() == DATA
    assert received.tail == DATA[-65536:]
    assert received.path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("fault", ["missing", "repeated", "reordered"])
async def test_a_chunk_missing_repeated_or_out_of_order_abandons_the_transfer(
    source: Path, inbox_dir: Path, fault: str
) -> None:
    frames = await frames_of(source, 1000)
    if fault == "missing":
        del frames[3]
    elif fault == "repeated":
        frames.insert(4, frames[3])
    else:
        frames[3], frames[4] = frames[4], frames[3]
    box = inbox(inbox_dir)
    outcomes = []
    for frame in frames:
        try:
            outcomes.append(await box.accept("a", decode_chunk(frame)))
        except TransferRefused as exc:
            outcomes.append(exc)
    refusals = [o for o in outcomes if isinstance(o, TransferRefused)]
    assert len(refusals) == 1 and "missing or repeated" in str(refusals[0])
    assert all(o is None for o in outcomes if not isinstance(o, TransferRefused))  # nothing handed on
    assert leftovers(inbox_dir) == []


async def test_a_snapshot_larger_than_the_limit_is_refused_at_its_first_chunk(
    source: Path, inbox_dir: Path
) -> None:
    box = inbox(inbox_dir, max_bytes=len(DATA) - 1)
    frames = await frames_of(source, 4096)
    with pytest.raises(TransferRefused, match=r"10,240 bytes; this node takes at most 10,239 \(storage.max"):
        await box.accept("a", decode_chunk(frames[0]))
    assert [await box.accept("a", decode_chunk(f)) for f in frames[1:]] == [None, None]
    assert leftovers(inbox_dir) == []


async def test_a_damaged_chunk_fails_the_digest_and_leaves_nothing(source: Path, inbox_dir: Path) -> None:
    frames = [decode_chunk(f) for f in await frames_of(source, 4096)]
    frames[1] = replace(frames[1], data=b"y" * len(frames[1].data))
    box = inbox(inbox_dir)
    with pytest.raises(TransferRefused, match="damaged"):
        for chunk in frames:
            await box.accept("a", chunk)
    assert leftovers(inbox_dir) == []


async def test_an_interrupted_transfer_leaves_nothing_and_a_new_one_starts_clean(
    source: Path, inbox_dir: Path
) -> None:
    box = inbox(inbox_dir)
    frames = await frames_of(source, 1000)
    for frame in frames[:5]:
        await box.accept("a", decode_chunk(frame))
    assert len(leftovers(inbox_dir)) == 1  # the part received so far
    await box.abandon("a")  # the stream broke
    assert leftovers(inbox_dir) == []
    assert await box.accept("a", decode_chunk(frames[5])) is None  # the rest of the old one is ignored

    again = [await box.accept("a", decode_chunk(f)) for f in await frames_of(source, 1000)]
    assert again[-1] is not None and again[-1].path.read_bytes() == DATA
    assert leftovers(inbox_dir) == [again[-1].path.name]


async def test_a_newer_leaders_transfer_replaces_one_in_progress_and_an_older_ones_is_refused(
    source: Path, inbox_dir: Path
) -> None:
    box = inbox(inbox_dir)
    old = await frames_of(source, 1000, term=3)
    new = [decode_chunk(f) for f in await frames_of(source, 1000, term=4)]
    new = [replace(c, src="c") for c in new]
    await box.accept("a", decode_chunk(old[0]))
    await box.accept("c", new[0])  # term 4 takes over
    with pytest.raises(TransferRefused, match="of term 3 while one of term 4"):
        await box.accept("a", replace(decode_chunk(old[0]), transfer="restart"))
    assert [await box.accept("a", decode_chunk(f)) for f in old[1:]] == [None] * (len(old) - 1)
    results = [await box.accept("c", c) for c in new[1:]]
    assert results[-1] is not None and results[-1].term == 4 and results[-1].path.read_bytes() == DATA
    assert leftovers(inbox_dir) == [results[-1].path.name]


async def test_a_claimed_file_is_kept_until_installed_and_older_claims_go_with_it(
    source: Path, inbox_dir: Path
) -> None:
    box = inbox(inbox_dir)
    older = [await box.accept("a", decode_chunk(f)) for f in await frames_of(source, 4096)][-1]
    assert older is not None
    box.claim(older)
    newer_meta = replace(META, index=50)
    outgoing = OutgoingSnapshot(message(meta=newer_meta), source, 4096)
    newer = None
    while (frame := await outgoing.next_frame()) is not None:
        newer = await box.accept("a", decode_chunk(frame))
    assert newer is not None
    box.claim(newer)
    assert box.claimed(newer_meta) == newer.path
    await box.installed(newer_meta)
    assert not older.path.exists() and newer.path.exists()  # installing renames it; not this test's part
    with pytest.raises(KeyError):
        box.claimed(META)

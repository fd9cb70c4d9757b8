"""A snapshot sent to a peer in chunks: the frames' wire form, and the sender's side.

The Raft core sends a snapshot by reference (``InstallSnapshot`` without its bytes); sending the file
is the transport's business. A snapshot of a million tasks is a quarter of a gigabyte: read whole,
base64'd into one JSON frame, it would stall the sender's event loop for seconds, and the elections
that follow would start the transfer over and over. So it travels as a run of binary frames on the
peer's stream, each carrying one chunk of the file (``cluster.snapshot_chunk_bytes``), read from the
file a chunk at a time in a worker thread. The sender puts whatever else is queued for the peer
(heartbeats, appends) on the stream between two chunks, so they wait for one chunk at most.

A chunk frame is ``CHUNK_MARK``, the length of its header (4 bytes, big-endian), the header (JSON),
then the chunk's bytes. A batch of messages is a JSON object, so its frame starts with ``{``, never
with ``CHUNK_MARK``. The header names the transfer (a random ``id``: a transfer that starts over is a
new one), the sender's term, the snapshot's meta, the file's ``size``, the chunk's ``offset``, and on
the last chunk the SHA-256 ``digest`` of the whole file. The receiver (node/snapshot_inbox.py) takes
the chunks of one transfer in order, from offset 0, and only then hands the snapshot to its core.

Who takes chunks is settled per stream, when it opens: the sender offers the WebSocket subprotocol
``CHUNKS_PROTOCOL`` and a node that reads chunk frames (0.2.0 on) accepts it. A 0.1.0 node accepts
no subprotocol, so a stream to it gets each snapshot whole, in one message, as 0.1.0 sends it. Being
the stream's own, the answer is there before anything is sent on it; the versions a peer announces
arrive on the other stream, the one it opens, which may open later.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
import orjson

from .raft import InstallSnapshot, SnapshotMeta, WireError
from .raft.messages import snapshot_meta_from_wire, snapshot_meta_to_wire

CHUNKS_PROTOCOL = "todonode.snapshot-chunks.1"  # the stream's subprotocol when it takes chunk frames
CHUNK_MARK = b"\x00"
MAX_CHUNK_BYTES = 4 * 1024 * 1024  # the most one chunk may carry (what cluster.snapshot_chunk_bytes allows)
MAX_HEADER_BYTES = 64 * 1024  # a chunk's header: a meta with every member's address fits many times over
_LENGTH_BYTES = 4


class ChunkHeader(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a chunk frame says of itself, checked for type on decoding (``decode_chunk``)."""

    v: int
    id: str
    term: int
    src: str
    dst: str
    meta: dict[str, Any]
    size: int
    offset: int
    digest: str = ""  # on the last chunk only: SHA-256 of the whole file, in hex


@dataclass(frozen=True, slots=True)
class Chunk:
    transfer: str  # the transfer's id
    term: int
    src: str
    dst: str
    meta: SnapshotMeta
    size: int  # of the whole file
    offset: int  # of ``data`` in the file
    data: bytes
    digest: str  # "" but on the last chunk

    @property
    def last(self) -> bool:
        return self.offset + len(self.data) == self.size


_WIRE_VERSION = 1
_MAX_NAME_CHARS = 255
_HEADER = msgspec.json.Decoder(ChunkHeader)


def is_chunk_frame(frame: bytes) -> bool:
    return frame[:1] == CHUNK_MARK


def encode_chunk(chunk: Chunk) -> bytes:
    header = orjson.dumps(
        {
            "v": _WIRE_VERSION,
            "id": chunk.transfer,
            "term": chunk.term,
            "src": chunk.src,
            "dst": chunk.dst,
            "meta": snapshot_meta_to_wire(chunk.meta),
            "size": chunk.size,
            "offset": chunk.offset,
            "digest": chunk.digest,
        }
    )
    return b"".join((CHUNK_MARK, len(header).to_bytes(_LENGTH_BYTES, "big"), header, chunk.data))


def decode_chunk(frame: bytes) -> Chunk:
    """A chunk frame back to its chunk, every field checked; WireError if it is not a valid one."""
    start = len(CHUNK_MARK) + _LENGTH_BYTES
    if not is_chunk_frame(frame) or len(frame) < start:
        raise WireError("not a snapshot chunk frame")
    length = int.from_bytes(frame[len(CHUNK_MARK) : start], "big")
    if length > MAX_HEADER_BYTES or start + length > len(frame):
        raise WireError(f"a chunk's header of {length} bytes does not fit its frame of {len(frame)}")
    try:
        header = _HEADER.decode(frame[start : start + length])
        meta = snapshot_meta_from_wire(header.meta)
    except (msgspec.ValidationError, msgspec.DecodeError, KeyError, TypeError) as exc:
        raise WireError(f"malformed snapshot chunk: {exc}") from exc
    data = frame[start + length :]
    if header.v != _WIRE_VERSION:
        raise WireError(f"unsupported chunk version {header.v} (this node speaks {_WIRE_VERSION})")
    if not 0 < len(header.id) <= 64 or max(len(header.src), len(header.dst)) > _MAX_NAME_CHARS:
        raise WireError("a chunk's transfer id or member names are too long")
    if len(data) > MAX_CHUNK_BYTES:
        raise WireError(f"a chunk of {len(data)} bytes is larger than {MAX_CHUNK_BYTES}")
    if header.term < 0 or header.offset < 0 or header.offset + len(data) > header.size:
        raise WireError(f"a chunk of {len(data)} bytes at {header.offset} does not fit {header.size} bytes")
    return Chunk(
        header.id, header.term, header.src, header.dst, meta, header.size, header.offset, data, header.digest
    )


class OutgoingSnapshot:
    """One transfer of a snapshot file to a peer: the chunks, read and hashed a chunk at a time in a
    worker thread. The file stays open from the first chunk on, so a newer snapshot that replaces it
    meanwhile does not cut the transfer short (the bytes already sent stay consistent)."""

    def __init__(self, message: InstallSnapshot, path: Path, chunk_bytes: int) -> None:
        assert message.snapshot is not None, "an InstallSnapshot without a snapshot sends nothing"
        self.message = message
        self.meta = message.snapshot.meta
        self._path = path
        self._chunk_bytes = chunk_bytes
        self._file: BinaryIO | None = None
        self._size = 0
        self._offset = 0
        self._digest = hashlib.sha256()
        self._transfer = ""
        self.chunks_sent = 0

    def same_as(self, message: InstallSnapshot) -> bool:
        """``message`` asks for what this transfer already sends (the core asking again after a while)."""
        snapshot = message.snapshot
        return snapshot is not None and snapshot.meta == self.meta and message.term == self.message.term

    async def next_frame(self) -> bytes | None:
        """The next chunk's frame; None once the last was given. OSError if the file cannot be read
        (FileNotFoundError: replaced by two newer snapshots before the transfer began)."""
        if self._file is None:
            self._file, self._size = await asyncio.to_thread(self._open)
            self._transfer = uuid.uuid4().hex
        if self._offset >= self._size and self.chunks_sent > 0:
            return None
        data = await asyncio.to_thread(self._read)
        offset, self._offset = self._offset, self._offset + len(data)
        last = self._offset >= self._size
        if not last and not data:
            raise OSError(f"{self._path} ended at {offset} bytes, not {self._size}")
        self.chunks_sent += 1
        m = self.message
        return encode_chunk(
            Chunk(
                self._transfer,
                m.term,
                m.src,
                m.dst,
                self.meta,
                self._size,
                offset,
                data,
                self._digest.hexdigest() if last else "",
            )
        )

    def restart(self) -> None:
        """Send it all again, as a new transfer (the stream broke: the receiver dropped what it had)."""
        self.close()
        self._offset, self.chunks_sent, self._digest = 0, 0, hashlib.sha256()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> tuple[BinaryIO, int]:  # worker thread
        f = open(self._path, "rb")  # noqa: SIM115 (kept open across chunks; closed by close())
        return f, os.fstat(f.fileno()).st_size

    def _read(self) -> bytes:  # worker thread
        assert self._file is not None
        data = self._file.read(min(self._chunk_bytes, self._size - self._offset))
        self._digest.update(data)
        return data

"""The values the consensus core consumes and produces.

Everything here is an immutable dataclass: log entries, the hard state that must survive a crash,
snapshot metadata, and the messages peers exchange. None of it does I/O. ``to_wire`` / ``from_wire``
turn a message into plain JSON-ready values (with a version field) and back, because the node sends
these over HTTP; the core itself never serialises anything.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, ClassVar

from .quorum import MajorityConfig

WIRE_VERSION = 1


class EntryKind(StrEnum):
    """What a log entry carries. The core gives meaning to NOOP and CONFIG only."""

    COMMAND = "command"  # an opaque client command for the state machine
    NOOP = "noop"  # appended by every new leader so it can commit entries of earlier terms (Raft §5.4.2)
    # A new cluster configuration (``encode_config``); it takes effect as soon as it is in a log
    # (thesis §4.1, see membership.py).
    CONFIG = "config"


@dataclass(frozen=True, slots=True)
class Entry:
    term: int
    index: int
    data: bytes = b""
    kind: EntryKind = EntryKind.COMMAND


@dataclass(frozen=True, slots=True)
class HardState:
    """What a node must have on disk before it answers anyone (Raft Figure 2, "persistent state").

    ``commit`` is kept too, so that a restarted node can re-apply what it knew to be committed without
    waiting for a leader; losing it is safe, losing ``term`` or ``vote`` is not.
    """

    term: int = 0
    vote: str | None = None
    commit: int = 0


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Who takes part in the cluster (thesis §4): the voters, most preferred leader first (for
    todonode: lowest port first), and the learners, who receive the log and snapshots but never vote
    in an election or count towards a majority (thesis §4.2.1).

    ``addresses`` (member id -> URL, sorted by id) is the runtime's, never the core's: the core carries
    it along in configuration entries and snapshots and never reads it, so that the log alone says both
    who the members are and where to reach them.

    A configuration with no voters is the one a node joining a cluster starts from: it knows nobody
    yet and waits to hear from a leader.
    """

    voters: tuple[str, ...]
    learners: tuple[str, ...] = ()
    addresses: tuple[tuple[str, str], ...] = ()
    # Built once: the core counts a majority on every acknowledgement.
    _majority: MajorityConfig | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        members = self.voters + self.learners
        if len(set(members)) != len(members):
            raise ValueError(f"a member is listed twice in voters {self.voters} and learners {self.learners}")
        object.__setattr__(self, "_majority", MajorityConfig(frozenset(self.voters)) if self.voters else None)

    @property
    def members(self) -> tuple[str, ...]:
        """Voters, then learners."""
        return self.voters + self.learners

    def majority(self) -> MajorityConfig:
        """The voters as one majority: every count of votes or acknowledgements goes through it."""
        if self._majority is None:
            raise ValueError("a configuration without voters has no majority")
        return self._majority

    def quorum(self) -> int:
        return self.majority().quorum

    def address_of(self, member: str) -> str | None:
        return dict(self.addresses).get(member)


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    index: int  # last log index the snapshot covers
    term: int  # term of that entry
    config: ClusterConfig


@dataclass(frozen=True, slots=True)
class Snapshot:
    meta: SnapshotMeta
    data: bytes  # the serialised state machine; opaque to the core


class Role(StrEnum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre_candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


# ---------------------------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class Message:
    """Base of every peer message. ``term`` is the sender's term (for PreVote: the term it would take)."""

    kind: ClassVar[str] = "message"
    term: int
    src: str
    dst: str


@dataclass(frozen=True, slots=True)
class VoteRequest(Message):
    kind: ClassVar[str] = "vote"
    last_log_index: int = 0
    last_log_term: int = 0
    pre_vote: bool = False
    # Set when the campaign was started by TimeoutNow: voters then ignore their leader lease (§3.10).
    transfer: bool = False


@dataclass(frozen=True, slots=True)
class VoteResponse(Message):
    kind: ClassVar[str] = "vote_response"
    granted: bool = False
    pre_vote: bool = False


@dataclass(frozen=True, slots=True)
class AppendEntries(Message):
    kind: ClassVar[str] = "append"
    prev_index: int = 0
    prev_term: int = 0
    entries: tuple[Entry, ...] = ()
    commit: int = 0


@dataclass(frozen=True, slots=True)
class AppendResponse(Message):
    kind: ClassVar[str] = "append_response"
    success: bool = False
    # On success: the highest index known to match the leader's log.
    match_index: int = 0
    # On rejection: the prev_index that was rejected (to drop stale rejections) and the
    # fast back-off hint: the conflicting term and the first index this follower holds of it,
    # or conflict_term 0 and the follower's last index + 1 when its log is too short.
    reject_index: int = 0
    conflict_term: int = 0
    conflict_index: int = 0


@dataclass(frozen=True, slots=True)
class Heartbeat(Message):
    """Leader liveness. ``commit`` never exceeds what the follower is known to hold; ``round`` lets
    ReadIndex learn that a majority still follows this leader. Round 0 only tells the commit index and
    is not answered: it follows every write, and answers would double the messages a write costs."""

    kind: ClassVar[str] = "heartbeat"
    commit: int = 0
    round: int = 0

    @property
    def is_commit_notice(self) -> bool:
        return self.round == 0


@dataclass(frozen=True, slots=True)
class HeartbeatResponse(Message):
    kind: ClassVar[str] = "heartbeat_response"
    round: int = 0


@dataclass(frozen=True, slots=True)
class InstallSnapshot(Message):
    kind: ClassVar[str] = "snapshot"
    snapshot: Snapshot | None = None


@dataclass(frozen=True, slots=True)
class TimeoutNow(Message):
    """Sent by a leader handing over: the receiver campaigns at once (thesis §3.10)."""

    kind: ClassVar[str] = "timeout_now"


@dataclass(frozen=True, slots=True)
class ReadIndexRequest(Message):
    """A follower asks the leader for a linearizable read index on behalf of a local reader."""

    kind: ClassVar[str] = "read_index"
    ctx: str = ""


@dataclass(frozen=True, slots=True)
class ReadIndexResponse(Message):
    kind: ClassVar[str] = "read_index_response"
    ctx: str = ""
    index: int = 0
    ok: bool = False  # False: the leader could not serve it (it is stepping down or transferring)


MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.kind: cls
    for cls in (
        VoteRequest,
        VoteResponse,
        AppendEntries,
        AppendResponse,
        Heartbeat,
        HeartbeatResponse,
        InstallSnapshot,
        TimeoutNow,
        ReadIndexRequest,
        ReadIndexResponse,
    )
}


# ------------------------------------------------------------------------------------------ wire format

# Bounds on what a peer may send. A term or index beyond MAX_WIRE_INT is refused: a node that took one
# could still count up from it for longer than any cluster lives, where one at 2**64 - 1 could never
# write its next term. Names and read contexts are short in every message todonode makes.
MAX_WIRE_INT = 2**62
MAX_NAME_CHARS = 255
MAX_CTX_CHARS = 128
MAX_VOTERS = 64


class WireError(ValueError):
    """A message from the wire that cannot be decoded: wrong version, unknown kind or bad field."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _wire_int(what: str, value: Any) -> int:
    """``value`` if it is an integer (not a boolean) in 0..MAX_WIRE_INT, else WireError naming ``what``."""
    if type(value) is not int:
        raise WireError(f"{what} must be int, got {type(value).__name__}")
    if not 0 <= value <= MAX_WIRE_INT:
        raise WireError(f"{what} must be in 0..2**62, got {value}")
    return value


def _wire_str(what: str, value: Any, longest: int) -> str:
    if type(value) is not str:
        raise WireError(f"{what} must be str, got {type(value).__name__}")
    if len(value) > longest:
        raise WireError(f"{what} must be at most {longest} characters, got {len(value)}")
    return value


def entry_to_wire(e: Entry) -> list[Any]:
    return [e.term, e.index, _b64(e.data), e.kind.value]


def entry_from_wire(raw: Any) -> Entry:
    if type(raw) is not list or len(raw) != 4:
        raise WireError("an entry must be [term, index, data, kind]")
    term, index, data, kind = raw
    if type(data) is not str:
        raise WireError(f"an entry's data must be str, got {type(data).__name__}")
    return Entry(
        term=_wire_int("an entry's term", term),
        index=_wire_int("an entry's index", index),
        data=_unb64(data),
        kind=EntryKind(kind),
    )


def config_to_wire(c: ClusterConfig) -> dict[str, Any]:
    # Learners and addresses only when there are some: a fixed cluster's form stays {"voters": [...]}.
    out: dict[str, Any] = {"voters": list(c.voters)}
    if c.learners:
        out["learners"] = list(c.learners)
    if c.addresses:
        out["addresses"] = dict(c.addresses)
    return out


def config_from_wire(raw: dict[str, Any]) -> ClusterConfig:
    voters, learners = raw["voters"], raw.get("learners", [])
    if type(voters) is not list or not 0 < len(voters) <= MAX_VOTERS:
        raise WireError(f"voters must be a list of 1..{MAX_VOTERS} names")
    if type(learners) is not list or len(learners) > MAX_VOTERS:
        raise WireError(f"learners must be a list of at most {MAX_VOTERS} names")
    addresses = raw.get("addresses", {})
    if type(addresses) is not dict or len(addresses) > len(voters) + len(learners):
        raise WireError("config addresses must be an object with at most one address per member")
    try:
        return ClusterConfig(
            voters=tuple(_wire_str("a voter", v, MAX_NAME_CHARS) for v in voters),
            learners=tuple(_wire_str("a learner", v, MAX_NAME_CHARS) for v in learners),
            addresses=tuple(
                sorted(
                    (_wire_str("a member", k, MAX_NAME_CHARS), _wire_str("an address", v, MAX_NAME_CHARS))
                    for k, v in addresses.items()
                )
            ),
        )
    except ValueError as exc:  # a member listed twice
        raise WireError(str(exc)) from None


def encode_config(c: ClusterConfig) -> bytes:
    """The data of a CONFIG log entry: the configuration's wire form as compact JSON."""
    return json.dumps(config_to_wire(c), separators=(",", ":")).encode()


def decode_config(data: bytes) -> ClusterConfig:
    """A CONFIG entry's data back to its configuration; WireError if it is not one."""
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise WireError(f"a configuration must be a JSON object, got {type(raw).__name__}")
        return config_from_wire(raw)
    except WireError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"malformed configuration entry: {exc}") from exc


def snapshot_meta_to_wire(m: SnapshotMeta) -> dict[str, Any]:
    return {"index": m.index, "term": m.term, "config": config_to_wire(m.config)}


def snapshot_meta_from_wire(raw: dict[str, Any]) -> SnapshotMeta:
    return SnapshotMeta(
        index=_wire_int("a snapshot's index", raw["index"]),
        term=_wire_int("a snapshot's term", raw["term"]),
        config=config_from_wire(raw["config"]),
    )


# (name, annotation) of each field of each message type: looked up once, not once per message (every
# write sends and receives several).
_WIRE_FIELDS: dict[type[Message], tuple[tuple[str, str], ...]] = {
    cls: tuple((f.name, str(f.type)) for f in fields(cls)) for cls in MESSAGE_TYPES.values()
}


def to_wire(msg: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"v": WIRE_VERSION, "kind": msg.kind}
    for name, _ in _WIRE_FIELDS[type(msg)]:
        value = getattr(msg, name)
        if name == "entries":
            value = [entry_to_wire(e) for e in value]
        elif name == "snapshot":
            value = (
                None
                if value is None
                else {"meta": snapshot_meta_to_wire(value.meta), "data": _b64(value.data)}
            )
        out[name] = value
    return out


def _field_from_wire(name: str, annotation: str, value: Any) -> Any:
    """One field's value, checked against its annotation and bounds."""
    if annotation == "int":
        return _wire_int(name, value)
    if annotation == "str":
        return _wire_str(name, value, MAX_CTX_CHARS if name == "ctx" else MAX_NAME_CHARS)
    if annotation == "bool":
        if type(value) is not bool:
            raise WireError(f"{name} must be bool, got {type(value).__name__}")
        return value
    if name == "entries":
        if type(value) is not list:
            raise WireError(f"entries must be a list, got {type(value).__name__}")
        return tuple(entry_from_wire(e) for e in value)
    if name == "snapshot" and value is not None:
        return Snapshot(meta=snapshot_meta_from_wire(value["meta"]), data=_unb64(value["data"]))
    return value


def _check_entries(m: AppendEntries) -> None:
    """The shape of a run of a leader's log: indices follow prev_index one by one, and terms never go
    below prev_term, never decrease, and never pass the leader's own term."""
    index, term = m.prev_index, m.prev_term
    for e in m.entries:
        if e.index != index + 1:
            raise WireError(f"entry index {e.index} does not follow {index}")
        if not term <= e.term <= m.term:
            raise WireError(f"entry term {e.term} is outside {term}..{m.term}")
        index, term = e.index, e.term


def from_wire(raw: dict[str, Any]) -> Message:
    """Decode a message from its wire form, every field checked for its type and range; anything
    malformed raises WireError, nothing else."""
    if not isinstance(raw, dict):
        raise WireError(f"a message must be a JSON object, got {type(raw).__name__}")
    try:
        if raw.get("v") != WIRE_VERSION:
            raise WireError(f"unsupported wire version {raw.get('v')!r} (this node speaks {WIRE_VERSION})")
        cls = MESSAGE_TYPES.get(raw.get("kind", ""))
        if cls is None:
            raise WireError(f"unknown message kind {raw.get('kind')!r}")
        kwargs = {
            name: _field_from_wire(name, annotation, raw[name])
            for name, annotation in _WIRE_FIELDS[cls]
            if name in raw
        }
        message = cls(**kwargs)
        if isinstance(message, AppendEntries):
            _check_entries(message)
        return message
    except WireError as exc:
        raise WireError(f"malformed {raw.get('kind', 'message')!r}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise WireError(f"malformed {raw.get('kind', 'message')!r}: {exc}") from exc


__all__ = [
    "WIRE_VERSION",
    "AppendEntries",
    "AppendResponse",
    "ClusterConfig",
    "Entry",
    "EntryKind",
    "HardState",
    "Heartbeat",
    "HeartbeatResponse",
    "InstallSnapshot",
    "Message",
    "ReadIndexRequest",
    "ReadIndexResponse",
    "Role",
    "Snapshot",
    "SnapshotMeta",
    "TimeoutNow",
    "VoteRequest",
    "VoteResponse",
    "WireError",
    "decode_config",
    "encode_config",
    "from_wire",
    "to_wire",
]

"""TOML → typed, validated, frozen configuration for one node.

This module owns the config file format: its sections and keys, each declared once with type, bounds and
default in the section classes below (msgspec checks a parsed file against them), and every rule between keys.
It never keeps state: ``load_config`` reads one file and returns a new ``Config``; there is no global config.
Every problem raises ``ConfigError`` with a one-line message naming the file, the key and the problem, so the
command line can print it and exit.

Rules that are decisions rather than obvious:

- Relative ``node.data_dir`` resolves against the working directory todonode starts in; relative
  ``cluster.secret_file`` and ``api.token_file`` resolve against the config file's directory.
- ``TODONODE_SECRET`` in the environment, when set, overrides ``cluster.secret`` and ``cluster.secret_file``
  (the file is then not read); set but empty is an error. Secrets and tokens, wherever they come from, are
  stripped of surrounding whitespace. An empty ``api.token`` means no token.
- Every member's id is derived from its URL: ``node<port>`` while every member has a port of its own (the
  usual one-host cluster), ``<host>:<port>`` when members on different hosts share a port. ``node.id`` is
  optional and, when given, must equal that derived id.
- This node is the member of ``cluster.nodes`` whose host and port equal ``node.host`` and ``node.port``.
- ``cluster.heartbeat_ms`` and ``cluster.election_timeout_ms`` must be exact multiples of
  ``cluster.tick_ms`` (nothing is rounded), and the election timeout at least three heartbeats.
- ``cluster.lease_reads`` (off by default; docs/guarantees.md#read-consistency says why) answers
  linearizable reads on the leader by lease. The lease is an election timeout less one tick and less
  ``cluster.lease_drift_margin_ms`` rounded up to whole ticks, and must come to at least one tick.
- An empty ``api.cors_origins`` (the default) means the cluster's own node origins; ``"*"`` allows any.
- ``[demo]`` is written by ``scripts/cluster.py --demo`` and turns on demo mode: the supervisor named by
  ``demo.supervisor`` (a Unix socket; relative to the config's directory) may inject faults into this node,
  and the node offers the controls for them to the page. Demo mode needs ``node.host`` on loopback.
- ``api.allowed_hosts`` are host names (or addresses) the node answers to besides its own: the hosts of
  ``cluster.nodes``, ``localhost`` and the loopback addresses always. They are kept lower case, without
  brackets or a trailing dot; ``"*"`` allows any ``Host`` (behind a proxy that checks it).
- ``node.event_loop`` is ``"auto"`` (uvloop where it is installed, which it is wherever pip installs
  todonode but Windows), ``"uvloop"`` (an error if it is not installed) or ``"asyncio"``.
- Relative ``tls.*`` paths resolve against the config file's directory. ``tls.cert_file`` and
  ``tls.key_file`` go together and turn TLS on: every member URL is then ``https://`` (and without them,
  ``http://``). ``tls.ca_file`` needs them too and turns on mutual TLS between peers (``tls.py``).
- A node whose ``node.host`` reaches beyond this machine needs TLS, unless ``node.insecure_plaintext`` says
  in so many words that plaintext is meant.
- ``cluster.join`` names a member of a running cluster: a node whose data directory is empty asks it to be
  added, and from then on follows the cluster's own membership; its ``cluster.nodes`` lists itself alone.
- ``node.peer_port``, when set, is where every member listens for its peers (the same port on every
  host, like etcd's 2380), so each member needs a host of its own.
- ``[backup] dir`` turns on scheduled backups (scheduled_backups.py). A relative dir resolves against the
  working directory, like ``node.data_dir``; like it, a dir that exists must be private, and it may not
  be inside the data directory (a restore needs that one empty).
- The cluster secret must carry at least ``MIN_SECRET_BITS`` of entropy, as ``secret_bits`` estimates it.
  A file holding a secret or a private key must be private to its owner (``privacy.py``).
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import os
import re
import ssl
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

import msgspec

from .privacy import exposure

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

SECRET_ENV = "TODONODE_SECRET"
MIN_SECRET_BITS = 256  # 32 random bytes: `openssl rand -hex 32` makes one
EventLoop = Literal["auto", "uvloop", "asyncio"]
EVENT_LOOPS: tuple[str, ...] = get_args(EventLoop)
# Integers carry their bounds as ge/le only: _expected words them from exactly those two.
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Positive = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
ChunkBytes = Annotated[int, msgspec.Meta(ge=1, le=4 * 1024 * 1024)]  # snapshot_chunks.MAX_CHUNK_BYTES


class ConfigError(Exception):
    """A config file that cannot be used. ``str()`` is one line: ``<file>: <key>: <problem>``."""

    def __init__(self, path: str | os.PathLike[str], key: str | None, problem: str) -> None:
        self.path, self.key, self.problem = str(path), key, problem
        super().__init__(f"{self.path}: {key}: {problem}" if key else f"{self.path}: {problem}")


# Where the file states a key in another form than the node reads it (optional, or in a file of its own),
# a ``_*File`` table holds that form, and the rules below turn it into the section's.


@dataclass(frozen=True, slots=True, kw_only=True)
class _NodeKeys:
    host: str = "127.0.0.1"  # the address the node binds to, and the host part of its URL in cluster.nodes
    port: Port
    event_loop: EventLoop = "auto"
    peer_port: Port | None = None  # peers on a listener of their own, at this port on every member's host
    insecure_plaintext: bool = False  # allow a host beyond loopback without TLS (and warn about it)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSection(_NodeKeys):
    id: str  # derived from cluster.nodes, see member_ids
    data_dir: Path  # absolute


@dataclass(frozen=True, slots=True, kw_only=True)
class _NodeFile(_NodeKeys):
    id: str | None = None
    data_dir: str | None = None  # None: data/<node id>


@dataclass(frozen=True, slots=True, kw_only=True)
class _ClusterKeys:
    nodes: tuple[str, ...]  # in ClusterSection: normalised "scheme://host:port", this node included
    heartbeat_ms: Positive = 100
    election_timeout_ms: Positive = 500
    prefer_lowest_port: bool = True
    leader_settle_ms: NonNegative = 3000
    tick_ms: Positive = 10
    write_wait_ms: NonNegative = 3000
    join: str | None = None  # a member's URL: an empty data directory joins that cluster (node/joining.py)
    promote_lag: NonNegative = 100  # a learner this many entries behind the leader, or fewer, is promoted
    auto_rejoin: bool = False  # a removed node asks to be added back, under a new id
    auto_remove_after_s: NonNegative = 0  # the leader removes a voter unreachable this long; 0: never
    min_voters: Positive = 3  # ... but never below this many voters
    lease_reads: bool = False
    lease_drift_margin_ms: NonNegative = 100
    snapshot_chunk_bytes: ChunkBytes = 1024 * 1024  # a snapshot goes to a peer in chunks of this size


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterSection(_ClusterKeys):
    secret: str = field(repr=False)

    @property
    def heartbeat_ticks(self) -> int:
        return self.heartbeat_ms // self.tick_ms

    @property
    def election_ticks(self) -> int:
        return self.election_timeout_ms // self.tick_ms

    @property
    def lease_drift_ticks(self) -> int | None:
        """The drift margin in whole ticks, rounded up; None when lease reads are off."""
        return -(-self.lease_drift_margin_ms // self.tick_ms) if self.lease_reads else None


@dataclass(frozen=True, slots=True, kw_only=True)
class _ClusterFile(_ClusterKeys):
    secret: str | None = field(default=None, repr=False)
    secret_file: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageSection:
    fsync: bool = True
    snapshot_every: Positive = 10_000  # applied entries between snapshots
    snapshot_interval_s: Positive = 300  # or this many seconds, whichever comes first
    segment_bytes: Positive = 64 * 1024 * 1024
    max_tasks: Positive = 200_000  # beyond this, writes that add tasks are refused (quota_exceeded)
    max_bytes: Positive = 64 * 1024 * 1024  # of tasks and idempotency records, as a snapshot holds them
    max_snapshot_bytes: Positive = 2 * 1024 * 1024 * 1024  # the largest snapshot taken from a leader


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSection:
    forward_writes: bool = True
    max_body_bytes: Positive = 1024 * 1024
    max_title_chars: Positive = 500
    max_batch: Positive = 1000
    cors_origins: tuple[str, ...] = ()  # never empty in ApiSection: defaults to the cluster's node origins
    allowed_hosts: tuple[str, ...] = ()  # Host names answered besides the members', localhost, loopback
    token: str | None = field(default=None, repr=False)  # None: writes need no client token
    admin_token: str | None = field(default=None, repr=False)  # for administration (api/access.py)
    protect_reads: bool = False  # reads need the token too
    metrics: bool = True  # serve GET /metrics and measure for it
    max_event_streams: Positive = 256  # GET /events subscribers at once; one more is 503
    max_connections: Positive = 1024  # client connections at once (peers have places of their own)
    max_connections_per_client: Positive = 128  # client connections from one address
    header_timeout_s: Positive = 10  # a request's head must arrive within this (from its first byte)
    body_timeout_s: Positive = 30  # and its body within this
    keepalive_timeout_s: Positive = 30  # a connection idle this long between requests is closed


@dataclass(frozen=True, slots=True, kw_only=True)
class _ApiFile(ApiSection):
    token_file: str | None = None
    admin_token_file: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsSection:
    cert_file: Path | None = None  # absolute in TlsSection; this node's certificate (chain), PEM
    key_file: Path | None = None  # its private key, PEM
    ca_file: Path | None = None  # the CA that signs every member's certificate: mutual TLS between peers

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None

    @property
    def mutual(self) -> bool:
        return self.ca_file is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class _TlsFile:
    cert_file: str | None = None
    key_file: str | None = None
    ca_file: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _DemoKeys:
    report_ms: Positive = 200  # how often a node in demo mode reports the messages it sent


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoSection(_DemoKeys):
    supervisor: Path | None = None  # absolute; None: not in demo mode

    @property
    def enabled(self) -> bool:
        return self.supervisor is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class _DemoFile(_DemoKeys):
    supervisor: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _BackupKeys:
    interval_s: Positive = 3600  # between two scheduled backups
    keep: Positive = 24  # the newest backups kept in dir; older ones are removed


@dataclass(frozen=True, slots=True, kw_only=True)
class BackupSection(_BackupKeys):
    dir: Path | None = None  # absolute; None: no scheduled backups

    @property
    def enabled(self) -> bool:
        return self.dir is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class _BackupFile(_BackupKeys):
    dir: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _File:
    node: _NodeFile
    cluster: _ClusterFile
    storage: StorageSection
    api: _ApiFile
    demo: _DemoFile
    tls: _TlsFile
    backup: _BackupFile


@dataclass(frozen=True, slots=True)
class Config:
    path: Path  # the file this came from, as given to load_config
    node: NodeSection
    cluster: ClusterSection
    storage: StorageSection
    api: ApiSection
    demo: DemoSection = DemoSection()
    tls: TlsSection = TlsSection()
    backup: BackupSection = BackupSection()

    @property
    def members(self) -> dict[str, str]:
        """Every member's id → URL, in cluster.nodes order, this node included."""
        return {member: url for url, member in member_ids(self.cluster.nodes).items()}

    @property
    def self_url(self) -> str:
        return self.members[self.node.id]

    @property
    def peer_urls(self) -> dict[str, str]:
        """Every member's id → the URL its peers reach it at: its own URL, or its host at
        ``node.peer_port`` when peers have a listener of their own."""
        return {member: self.peer_url(url) for member, url in self.members.items()}

    def peer_url(self, url: str) -> str:
        """Where peers reach the member at ``url``: there, or its host at ``node.peer_port``."""
        port = self.node.peer_port
        if port is None:
            return url
        parts = urlsplit(url)
        return _format_url(parts.scheme, parts.hostname or "", port)

    @property
    def plaintext_beyond_loopback(self) -> bool:
        """This node speaks plaintext on a network beyond loopback (node.insecure_plaintext allows it)."""
        return not self.tls.enabled and not is_loopback_host(self.node.host)

    @property
    def peers(self) -> tuple[str, ...]:
        """URLs of the other members, in cluster.nodes order."""
        return tuple(url for url in self.cluster.nodes if url != self.self_url)

    def preference_order(self) -> tuple[str, ...]:
        """Member ids, most preferred leader first: by (port, list position) if ``prefer_lowest_port``,
        else in list order. (Ports are distinct, so the position never actually breaks a tie.)"""
        ids = member_ids(self.cluster.nodes)
        urls = self.cluster.nodes
        if self.cluster.prefer_lowest_port:
            urls = tuple(sorted(urls, key=lambda url: urlsplit(url).port or 0))  # stable: list position
        return tuple(ids[url] for url in urls)


def member_ids(nodes: tuple[str, ...]) -> dict[str, str]:
    """URL -> member id, for normalised URLs with ports: ``node<port>`` when the ports are all different,
    else ``<host>:<port>`` for every member (a cluster spread over hosts that share one port)."""
    ports = [urlsplit(url).port for url in nodes]
    if len(set(ports)) == len(ports):
        return {url: f"node{port}" for url, port in zip(nodes, ports, strict=True)}
    return {url: urlsplit(url).netloc for url in nodes}


def is_loopback_host(host: str) -> bool:
    """True if ``host`` (a name or an IP address, IPv6 with or without brackets) reaches only this machine:
    ``localhost``, ``*.localhost``, 127.0.0.0/8 or ::1. ``0.0.0.0`` and ``::`` are not loopback."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        name = host.lower().rstrip(".")
        return name == "localhost" or name.endswith(".localhost")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


def load_config(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file at ``path``; ``environ`` defaults to ``os.environ``.

    Returns a complete ``Config`` or raises ``ConfigError``; never returns a partly valid config.
    """
    path = Path(path)
    env = os.environ if environ is None else environ
    file = _parse(path, _read_toml(path))
    nodes = tuple(_parse_url(path, "cluster.nodes", url, need_port=True) for url in file.cluster.nodes)
    node = _node_section(path, file.node, nodes)
    config = Config(
        path=path,
        node=node,
        cluster=_cluster_section(path, file.cluster, nodes, env),
        storage=file.storage,
        api=_api_section(path, file.api, nodes),
        demo=_demo_section(path, file.demo),
        tls=_tls_section(path, file.tls),
        backup=_backup_section(path, file.backup, node.data_dir),
    )
    if config.demo.enabled and not is_loopback_host(config.node.host):
        host = config.node.host
        problem = f"needs node.host on loopback, got {host!r}: the fault controls stay on this machine"
        raise ConfigError(path, "demo.supervisor", problem)
    _check_transport_security(config)
    return config


def _check_transport_security(config: Config) -> None:
    """The URL schemes agree with [tls]; a node reachable from other machines has TLS or says it means
    not to; a separate peer port can be reached on every member."""
    path, scheme = config.path, "https" if config.tls.enabled else "http"
    for url in config.cluster.nodes:
        if urlsplit(url).scheme != scheme:
            why = "[tls] is set" if config.tls.enabled else "[tls] cert_file and key_file are not set"
            raise ConfigError(path, "cluster.nodes", f"must be {scheme}:// URLs as {why}, got {url}")
    if config.plaintext_beyond_loopback and not config.node.insecure_plaintext:
        problem = (
            f"{config.node.host!r} is reachable from other machines, and this node has no TLS: anyone on "
            "the network could read its tasks and pose as a member. Set [tls] cert_file and key_file "
            "(`todonode certs init` makes them), or node.insecure_plaintext = true to accept that"
        )
        raise ConfigError(path, "node.host", problem)
    peer_port = config.node.peer_port
    if peer_port is None:
        return
    if peer_port == config.node.port:
        raise ConfigError(path, "node.peer_port", f"must differ from node.port ({peer_port})")
    hosts = [urlsplit(url).hostname for url in config.cluster.nodes]
    shared = next((host for host in hosts if hosts.count(host) > 1), None)
    if shared is not None:
        problem = (
            f"needs every member on a host of its own (each listens for peers on this port), but {shared} "
            f"has {hosts.count(shared)} members"
        )
        raise ConfigError(path, "node.peer_port", problem)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read config file: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, f"invalid TOML: not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"invalid TOML: {exc}") from None


def _parse(path: Path, raw: dict[str, Any]) -> _File:
    """``raw`` checked against ``_File``: known keys only, each of its type and within its bounds, absent
    ones defaulted. A section left out is an empty table, whose required keys are then missing."""
    sections = get_type_hints(_File)
    tables = {name: {} for name in sections} | raw
    for section, table in tables.items():
        if section not in sections:
            raise ConfigError(path, section, "unknown section" + _suggest(section, sections, "sections"))
        known = get_type_hints(sections[section])
        for key in table if isinstance(table, dict) else ():
            if key not in known:
                hint = _suggest(key, known, f"keys in [{section}]", prefix=f"{section}.")
                raise ConfigError(path, f"{section}.{key}", "unknown key" + hint)
            if f"{key}_file" in table:
                problem = f"set {section}.{key} or {section}.{key}_file, not both"
                raise ConfigError(path, f"{section}.{key}_file", problem)
    try:
        return msgspec.convert(tables, _File, strict=True)  # strict: TOML true is not the integer 1
    except msgspec.ValidationError as exc:
        raise _explain(path, tables, str(exc)) from None


def _explain(path: Path, tables: dict[str, Any], error: str) -> ConfigError:
    """msgspec's ``error`` ("<problem> - at `$.<section>.<key>[<index>]`") in this module's words. A wrong
    item in a list blames the whole key, which is what a reader of the file can find and fix."""
    problem, _, at = error.partition(" - at `$")
    missing = re.findall(r"^Object missing required field `(\w+)`", problem)
    names: list[str] = re.findall(r"\.(\w+)", at)[:2] + missing
    if missing:
        return ConfigError(path, ".".join(names), "is required")
    hint: Any = _File
    value: Any = tables
    for name in names:
        hint, value = get_type_hints(hint, include_extras=True)[name], value[name]
    key = ".".join(names)
    return ConfigError(path, key, f"must be {_expected(hint, key)}, got {_show(value)}")


_WORDS = {bool: "true or false", str: "a string", tuple[str, ...]: "a list of strings"}


def _expected(hint: Any, key: str) -> str:
    """What a value of a key declared as ``hint`` must be, in the words of a TOML file."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:  # an integer and its bounds
        low, high = args[1].ge, args[1].le
        if high is not None:
            return f"an integer in {low}..{high}"
        return "an integer > 0" if low == 1 else f"an integer >= {low}"
    if origin is Literal:
        return f"one of {', '.join(map(_show, args))}"
    # An optional key (``Port | None`` is a typing.Union): TOML has no null, so only the other type appears.
    if origin in (types.UnionType, typing.Union):
        return _expected(args[0], key)
    return _WORDS.get(hint, f"a table [{key}]")


_Section = TypeVar("_Section", bound="DataclassInstance")


def _section(section: type[_Section], table: DataclassInstance, **derived: object) -> _Section:
    """``section`` with ``derived`` values, and the file's value for each other field."""
    names = [item.name for item in dataclasses.fields(section) if item.name not in derived]
    return section(**{name: getattr(table, name) for name in names}, **derived)


def _node_section(path: Path, node: _NodeFile, nodes: tuple[str, ...]) -> NodeSection:
    host = node.host.strip("[]")
    if not host:
        raise ConfigError(path, "node.host", "must not be empty")
    own = _format_url("http", host.lower(), node.port)
    mine = [url for url in nodes if urlsplit(url).netloc == urlsplit(own).netloc]
    if not mine:
        raise ConfigError(path, "cluster.nodes", f"must include this node, {own} (node.host, node.port)")
    derived = member_ids(nodes)[mine[0]]
    if node.id not in (None, derived):
        problem = f"must be {_show(derived)} (ids derive from cluster.nodes), got {_show(node.id)}"
        raise ConfigError(path, "node.id", problem)
    data_dir = f"data/{derived.replace(':', '-')}" if node.data_dir is None else node.data_dir
    if not data_dir:
        raise ConfigError(path, "node.data_dir", "must not be empty")
    return _section(NodeSection, node, id=derived, data_dir=Path(data_dir).absolute())


def _cluster_section(
    path: Path, cluster: _ClusterFile, nodes: tuple[str, ...], env: Mapping[str, str]
) -> ClusterSection:
    seen: set[str] = set()
    for url in nodes:
        if urlsplit(url).netloc in seen:
            raise ConfigError(path, "cluster.nodes", f"lists {url} twice")
        seen.add(urlsplit(url).netloc)
    tick, heartbeat, election = cluster.tick_ms, cluster.heartbeat_ms, cluster.election_timeout_ms
    for key, value in (("heartbeat_ms", heartbeat), ("election_timeout_ms", election)):
        if value % tick:
            problem = f"must be a multiple of cluster.tick_ms ({tick}), got {value}"
            raise ConfigError(path, f"cluster.{key}", problem)
    if election < 3 * heartbeat:
        problem = f"must be >= 3 * cluster.heartbeat_ms ({3 * heartbeat}), got {election}"
        raise ConfigError(path, "cluster.election_timeout_ms", problem)
    if cluster.lease_reads and cluster.lease_drift_margin_ms > election - 2 * tick:
        problem = (
            f"leaves no lease: it must be at most cluster.election_timeout_ms less two ticks "
            f"({election - 2 * tick}), got {cluster.lease_drift_margin_ms}"
        )
        raise ConfigError(path, "cluster.lease_drift_margin_ms", problem)
    join = None if cluster.join is None else _parse_url(path, "cluster.join", cluster.join, need_port=True)
    return _section(ClusterSection, cluster, nodes=nodes, join=join, secret=_secret(path, cluster, env))


def _secret(path: Path, cluster: _ClusterFile, env: Mapping[str, str]) -> str:
    secret: str | None
    if env.get(SECRET_ENV) is not None:
        secret, problem = env[SECRET_ENV].strip(), f"{SECRET_ENV} is set but empty"
    else:
        secret = _inline_or_file(path, "cluster.secret_file", cluster.secret, cluster.secret_file)
        problem = "must not be empty"
    if secret is None:
        raise ConfigError(path, "cluster.secret", f"is required: set secret, secret_file or {SECRET_ENV}")
    if not secret:
        raise ConfigError(path, "cluster.secret", problem)
    bits = secret_bits(secret)
    if bits < MIN_SECRET_BITS:
        source = f" (from {SECRET_ENV})" if env.get(SECRET_ENV) is not None else ""
        problem = (
            f"is too weak{source}: about {bits} bits of entropy, at least {MIN_SECRET_BITS} needed "
            "(32 random bytes); make one with `openssl rand -hex 32`"
        )
        raise ConfigError(path, "cluster.secret", problem)
    return secret


# Alphabets a random secret is usually written in, smallest first, with the bits each character carries.
_ALPHABETS = (
    (frozenset("0123456789abcdef"), 4.0),
    (frozenset("0123456789ABCDEF"), 4.0),
    (frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_"), 6.0),
    (frozenset(chr(c) for c in range(0x20, 0x7F)), 6.5),  # printable ASCII and the space: log2(95)
)
_MIN_DISTINCT = 8  # fewer different characters than this is a pattern, not a random string


def secret_bits(secret: str) -> int:
    """An upper estimate of a secret's entropy: its length times the bits per character of the smallest
    alphabet it is written in (a hex string carries 4 bits a character, base64 6), or 8 bits a byte
    outside ASCII. It cannot see a pattern; it does refuse one character or a few repeated."""
    used = set(secret)
    if len(used) < _MIN_DISTINCT:
        return 0
    per_char = next((bits for alphabet, bits in _ALPHABETS if used <= alphabet), None)
    if per_char is None:
        return 8 * len(secret.encode())
    return int(len(secret) * per_char)


def _api_section(path: Path, api: _ApiFile, nodes: tuple[str, ...]) -> ApiSection:
    origins = tuple(
        o if o == "*" else _parse_url(path, "api.cors_origins", o, need_port=False) for o in api.cors_origins
    )
    token = _inline_or_file(path, "api.token_file", api.token, api.token_file) or None
    if api.protect_reads and token is None:
        raise ConfigError(path, "api.protect_reads", "needs api.token or api.token_file")
    admin = _inline_or_file(path, "api.admin_token_file", api.admin_token, api.admin_token_file) or None
    if admin is not None and admin == token:
        raise ConfigError(path, "api.admin_token", "must differ from api.token: they grant different rights")
    hosts = tuple(_host_name(path, host) for host in api.allowed_hosts)
    return _section(
        ApiSection, api, cors_origins=origins or nodes, token=token, admin_token=admin, allowed_hosts=hosts
    )


def _tls_section(path: Path, tls: _TlsFile) -> TlsSection:
    if (tls.cert_file is None) != (tls.key_file is None):
        missing = "tls.key_file" if tls.key_file is None else "tls.cert_file"
        raise ConfigError(path, missing, "is required: tls.cert_file and tls.key_file go together")
    if tls.ca_file is not None and tls.cert_file is None:
        problem = "needs tls.cert_file and tls.key_file: peers check this node's certificate too"
        raise ConfigError(path, "tls.ca_file", problem)
    files = {}
    for name in ("cert_file", "key_file", "ca_file"):
        given = getattr(tls, name)
        if given is not None:
            files[name] = _readable(path, f"tls.{name}", path.parent / given, private=name == "key_file")
    section = TlsSection(**files)
    _check_pem(path, section)
    return section


def _check_pem(path: Path, tls: TlsSection) -> None:
    """The files hold what their keys say, and the key is the certificate's: found now, in one line,
    rather than by the first peer that fails to connect."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if tls.cert_file is not None and tls.key_file is not None:
        try:
            context.load_cert_chain(tls.cert_file, tls.key_file)
        except ssl.SSLError as exc:
            problem = f"{tls.cert_file} and {tls.key_file} are not a PEM certificate and its key"
            raise ConfigError(path, "tls.key_file", f"{problem} ({exc.reason})") from None
    if tls.ca_file is not None:
        try:
            context.load_verify_locations(tls.ca_file)
        except ssl.SSLError as exc:
            problem = f"{tls.ca_file} is not a PEM certificate ({exc.reason})"
            raise ConfigError(path, "tls.ca_file", problem) from None


def _readable(path: Path, key: str, file: Path, *, private: bool) -> Path:
    """``file`` made absolute, once it is known to be readable (and, if ``private``, private)."""
    try:
        with open(file, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(path, key, f"cannot read {file}: {exc.strerror or exc}") from None
    if private and (exposed := exposure(file)):
        raise ConfigError(path, key, exposed)
    return file.absolute()


def _demo_section(path: Path, demo: _DemoFile) -> DemoSection:
    if demo.supervisor == "":
        raise ConfigError(path, "demo.supervisor", "must not be empty")
    supervisor = None if demo.supervisor is None else (path.parent / demo.supervisor).absolute()
    return _section(DemoSection, demo, supervisor=supervisor)


def _backup_section(path: Path, backup: _BackupFile, data_dir: Path) -> BackupSection:
    if backup.dir is None:
        return _section(BackupSection, backup, dir=None)
    if not backup.dir:
        raise ConfigError(path, "backup.dir", "must not be empty")
    directory = Path(backup.dir).absolute()
    if directory == data_dir or directory.is_relative_to(data_dir):
        problem = f"must be outside node.data_dir ({data_dir}): a restore needs that directory empty"
        raise ConfigError(path, "backup.dir", problem)
    if directory.exists() and not directory.is_dir():
        raise ConfigError(path, "backup.dir", f"{directory} is not a directory")
    if exposed := exposure(directory):
        raise ConfigError(path, "backup.dir", f"holds every task, and {exposed}")
    return _section(BackupSection, backup, dir=directory)


def _host_name(path: Path, value: str) -> str:
    """``value`` as a ``Host`` is compared (see ``host_key``), or ``*``."""
    host = value.strip()
    if host == "*":
        return host
    key = host_key(host)
    if key is None:
        problem = f"must be host names or addresses, without scheme or port, got {_show(value)}"
        raise ConfigError(path, "api.allowed_hosts", problem)
    return key


def host_key(host: str) -> str | None:
    """``host`` (a name, or an address, IPv6 with or without brackets) as hosts are compared: lower
    case, no trailing dot, an address in its shortest form. None if it is neither."""
    bare = host.lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(bare.removeprefix("[").removesuffix("]")))
    except ValueError:
        return bare if _HOST_NAME.fullmatch(bare) else None


_HOST_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?")


def _inline_or_file(path: Path, file_key: str, inline: str | None, file_name: str | None) -> str | None:
    """The stripped ``inline`` value, else the stripped text of the file ``file_name`` (relative to the
    config's directory; it must be readable and not empty), else None. ``file_key`` names it in errors."""
    if file_name is None:
        return None if inline is None else inline.strip()
    file = path.parent / file_name
    try:
        text = file.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else "not UTF-8"
        raise ConfigError(path, file_key, f"cannot read {file}: {reason}") from None
    if exposed := exposure(file):
        raise ConfigError(path, file_key, exposed)
    if not text:
        raise ConfigError(path, file_key, f"{file} is empty")
    return text


def _parse_url(path: Path, key: str, value: str, *, need_port: bool) -> str:
    """``value`` normalised to ``scheme://host[:port]`` (lower case, no trailing "/"). Raises ConfigError
    unless it is an http(s) URL with a host, a port if ``need_port``, and no path, query or credentials."""
    try:
        parts = urlsplit(value)
        host, port = parts.hostname or "", parts.port
    except ValueError as exc:
        raise ConfigError(path, key, f"invalid URL {_show(value)}: {exc}") from None
    beyond_origin = parts.path not in ("", "/") or bool(parts.query or parts.fragment) or "@" in parts.netloc
    problems = {
        "must be an http or https URL": parts.scheme not in ("http", "https"),
        "has no host": not host,
        "needs a port in 1..65535": need_port and not port,
        "must not have a path, query or credentials": beyond_origin,
    }
    problem = next((problem for problem, found in problems.items() if found), None)
    if problem:
        raise ConfigError(path, key, f"{problem}, got {_show(value)}")
    return _format_url(parts.scheme, host, port)


def _format_url(scheme: str, host: str, port: int | None) -> str:
    netloc = f"[{host}]" if ":" in host else host
    return f"{scheme}://{netloc}" if port is None else f"{scheme}://{netloc}:{port}"


def _suggest(word: str, known: Iterable[str], what: str, prefix: str = "") -> str:
    close = difflib.get_close_matches(word, known, n=1)
    return f" (did you mean {prefix}{close[0]}?)" if close else f"; known {what}: {', '.join(known)}"


def _show(value: Any) -> str:
    """A value as it would look in TOML, on one line, shortened if long."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."

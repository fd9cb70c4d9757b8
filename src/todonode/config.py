"""TOML → typed, validated, frozen configuration for one node.

This module owns the config file format: the known sections and keys (``_SCHEMA``), their defaults, and
every rule a config must satisfy. It never keeps state: ``load_config`` reads one file and returns a new
``Config``; there is no global config. Every problem raises ``ConfigError`` with a one-line message naming
the file, the key and the problem, so the command line can print it and exit.

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
- An empty ``api.cors_origins`` (the default) means the cluster's own node origins; ``"*"`` allows any.
- ``node.event_loop`` is ``"auto"`` (uvloop where it is installed, which it is wherever pip installs
  todonode but Windows), ``"uvloop"`` (an error if it is not installed) or ``"asyncio"``.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SECRET_ENV = "TODONODE_SECRET"
# Secrets a node refuses when it listens beyond loopback (an empty secret is refused everywhere).
WEAK_SECRETS = frozenset({"change-me"})
EVENT_LOOPS = ("auto", "uvloop", "asyncio")


class ConfigError(Exception):
    """A config file that cannot be used. ``str()`` is one line: ``<file>: <key>: <problem>``."""

    def __init__(self, path: str | os.PathLike[str], key: str | None, problem: str) -> None:
        self.path, self.key, self.problem = str(path), key, problem
        super().__init__(f"{self.path}: {key}: {problem}" if key else f"{self.path}: {problem}")


@dataclass(frozen=True, slots=True)
class NodeSection:
    id: str  # always "node<port>"
    host: str  # the address the node binds to, and the host part of its URL in cluster.nodes
    port: int
    data_dir: Path  # absolute
    event_loop: str = "auto"  # "auto", "uvloop" or "asyncio"


@dataclass(frozen=True, slots=True)
class ClusterSection:
    nodes: tuple[str, ...]  # normalised "scheme://host:port", this node included, in file order
    secret: str = field(repr=False)
    heartbeat_ms: int
    election_timeout_ms: int
    prefer_lowest_port: bool
    leader_settle_ms: int
    tick_ms: int
    write_wait_ms: int

    @property
    def heartbeat_ticks(self) -> int:
        return self.heartbeat_ms // self.tick_ms

    @property
    def election_ticks(self) -> int:
        return self.election_timeout_ms // self.tick_ms


@dataclass(frozen=True, slots=True)
class StorageSection:
    fsync: bool
    snapshot_every: int  # applied entries between snapshots
    snapshot_interval_s: int  # or this many seconds, whichever comes first
    segment_bytes: int


@dataclass(frozen=True, slots=True)
class ApiSection:
    forward_writes: bool
    max_body_bytes: int
    max_title_chars: int
    max_batch: int
    cors_origins: tuple[str, ...]  # never empty: defaults to the cluster's node origins
    token: str | None = field(repr=False)  # None: writes need no client token
    protect_reads: bool  # reads need the token too
    metrics: bool = True  # serve GET /metrics and measure for it


@dataclass(frozen=True, slots=True)
class Config:
    path: Path  # the file this came from, as given to load_config
    node: NodeSection
    cluster: ClusterSection
    storage: StorageSection
    api: ApiSection

    @property
    def members(self) -> dict[str, str]:
        """Every member's id → URL, in cluster.nodes order, this node included."""
        return {member: url for url, member in member_ids(self.cluster.nodes).items()}

    @property
    def self_url(self) -> str:
        return self.members[self.node.id]

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


_REQUIRED = object()


@dataclass(frozen=True, slots=True)
class _Key:
    """One known key: its type (bool, int, str, or list meaning a list of strings), its default
    (``_REQUIRED`` if it has none) and, for ints, inclusive bounds."""

    kind: type
    default: Any = _REQUIRED
    low: int | None = None
    high: int | None = None

    def accepts(self, value: Any) -> bool:
        if self.kind is int:  # exact type: TOML true is a bool, not the integer 1
            low, high = self.low, self.high
            return type(value) is int and (low is None or low <= value) and (high is None or value <= high)
        if self.kind is list:
            return isinstance(value, list) and all(isinstance(item, str) for item in value)
        return isinstance(value, self.kind)

    def expected(self) -> str:
        if self.kind is int:
            if self.high is not None:
                return f"an integer in {self.low}..{self.high}"
            return "an integer > 0" if self.low == 1 else f"an integer >= {self.low}"
        return {bool: "true or false", str: "a string", list: "a list of strings"}[self.kind]


_SCHEMA: dict[str, dict[str, _Key]] = {
    "node": {
        "id": _Key(str, None),
        "host": _Key(str, "127.0.0.1"),
        "port": _Key(int, _REQUIRED, 1, 65535),
        "data_dir": _Key(str, None),  # None: data/node<port>
        "event_loop": _Key(str, "auto"),
    },
    "cluster": {
        "nodes": _Key(list),
        "secret": _Key(str, None),
        "secret_file": _Key(str, None),
        "heartbeat_ms": _Key(int, 100, 1),
        "election_timeout_ms": _Key(int, 500, 1),
        "prefer_lowest_port": _Key(bool, True),
        "leader_settle_ms": _Key(int, 3000, 0),
        "tick_ms": _Key(int, 10, 1),
        "write_wait_ms": _Key(int, 3000, 0),
    },
    "storage": {
        "fsync": _Key(bool, True),
        "snapshot_every": _Key(int, 10_000, 1),
        "snapshot_interval_s": _Key(int, 300, 1),
        "segment_bytes": _Key(int, 64 * 1024 * 1024, 1),
    },
    "api": {
        "forward_writes": _Key(bool, True),
        "max_body_bytes": _Key(int, 1024 * 1024, 1),
        "max_title_chars": _Key(int, 500, 1),
        "max_batch": _Key(int, 1000, 1),
        "cors_origins": _Key(list, []),
        "token": _Key(str, None),
        "token_file": _Key(str, None),
        "protect_reads": _Key(bool, False),
        "metrics": _Key(bool, True),
    },
}


def load_config(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file at ``path``; ``environ`` defaults to ``os.environ``.

    Returns a complete ``Config`` or raises ``ConfigError``; never returns a partly valid config.
    """
    path = Path(path)
    env = os.environ if environ is None else environ
    raw = _read_toml(path)
    for name, value in raw.items():
        if name not in _SCHEMA:
            raise ConfigError(path, name, "unknown section" + _suggest(name, _SCHEMA, "sections"))
        if not isinstance(value, dict):
            raise ConfigError(path, name, f"must be a table [{name}], got {_show(value)}")
    node, cluster, storage, api = (_section(path, name, raw.get(name, {})) for name in _SCHEMA)
    nodes = tuple(_parse_url(path, "cluster.nodes", url, need_port=True) for url in cluster["nodes"])
    config = Config(
        path=path,
        node=_node_section(path, node, nodes),
        cluster=_cluster_section(path, cluster, nodes, env),
        storage=StorageSection(**storage),
        api=_api_section(path, api, nodes),
    )
    if not is_loopback_host(config.node.host) and config.cluster.secret in WEAK_SECRETS:
        problem = (
            f"is the example secret, and node.host {config.node.host!r} is reachable from other machines: "
            "anyone could join the cluster. Set a secret of your own (e.g. a file made with "
            "`openssl rand -hex 32`, as secret_file, or TODONODE_SECRET)"
        )
        raise ConfigError(path, "cluster.secret", problem)
    return config


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


def _section(path: Path, name: str, table: dict[str, Any]) -> dict[str, Any]:
    """The section's values by key: each checked against ``_SCHEMA``, absent ones defaulted."""
    schema = _SCHEMA[name]
    for key in table:
        if key not in schema:
            hint = _suggest(key, schema, f"keys in [{name}]", prefix=f"{name}.")
            raise ConfigError(path, f"{name}.{key}", "unknown key" + hint)
        if f"{key}_file" in table:
            raise ConfigError(path, f"{name}.{key}_file", f"set {name}.{key} or {name}.{key}_file, not both")
    values = {}
    for key, spec in schema.items():
        value = table.get(key, spec.default)
        if value is _REQUIRED:
            raise ConfigError(path, f"{name}.{key}", "is required")
        if key in table and not spec.accepts(value):
            raise ConfigError(path, f"{name}.{key}", f"must be {spec.expected()}, got {_show(value)}")
        values[key] = tuple(value) if spec.kind is list else value
    return values


def _node_section(path: Path, values: dict[str, Any], nodes: tuple[str, ...]) -> NodeSection:
    host, port = values["host"], values["port"]
    if not host.strip("[]"):
        raise ConfigError(path, "node.host", "must not be empty")
    own = _format_url("http", host.strip("[]").lower(), port)
    mine = [url for url in nodes if urlsplit(url).netloc == urlsplit(own).netloc]
    if not mine:
        raise ConfigError(path, "cluster.nodes", f"must include this node, {own} (node.host, node.port)")
    derived = member_ids(nodes)[mine[0]]
    if values["id"] not in (None, derived):
        problem = f"must be {_show(derived)} (ids derive from cluster.nodes), got {_show(values['id'])}"
        raise ConfigError(path, "node.id", problem)
    data_dir = f"data/{derived.replace(':', '-')}" if values["data_dir"] is None else values["data_dir"]
    if not data_dir:
        raise ConfigError(path, "node.data_dir", "must not be empty")
    if values["event_loop"] not in EVENT_LOOPS:
        problem = f"must be one of {', '.join(map(_show, EVENT_LOOPS))}, got {_show(values['event_loop'])}"
        raise ConfigError(path, "node.event_loop", problem)
    return NodeSection(
        id=derived,
        host=host,
        port=port,
        data_dir=Path(data_dir).absolute(),
        event_loop=values["event_loop"],
    )


def _cluster_section(
    path: Path, values: dict[str, Any], nodes: tuple[str, ...], env: Mapping[str, str]
) -> ClusterSection:
    seen: set[str] = set()
    for url in nodes:
        if urlsplit(url).netloc in seen:
            raise ConfigError(path, "cluster.nodes", f"lists {url} twice")
        seen.add(urlsplit(url).netloc)
    tick, heartbeat, election = values["tick_ms"], values["heartbeat_ms"], values["election_timeout_ms"]
    for key in ("heartbeat_ms", "election_timeout_ms"):
        if values[key] % tick:
            problem = f"must be a multiple of cluster.tick_ms ({tick}), got {values[key]}"
            raise ConfigError(path, f"cluster.{key}", problem)
    if election < 3 * heartbeat:
        problem = f"must be >= 3 * cluster.heartbeat_ms ({3 * heartbeat}), got {election}"
        raise ConfigError(path, "cluster.election_timeout_ms", problem)
    secret = _secret(path, values, env)
    del values["secret_file"]
    return ClusterSection(**{**values, "nodes": nodes, "secret": secret})


def _secret(path: Path, values: dict[str, Any], env: Mapping[str, str]) -> str:
    if env.get(SECRET_ENV) is not None:
        secret, problem = env[SECRET_ENV].strip(), f"{SECRET_ENV} is set but empty"
    else:
        secret, problem = _inline_or_file(path, "cluster", "secret", values), "must not be empty"
    if secret is None:
        raise ConfigError(path, "cluster.secret", f"is required: set secret, secret_file or {SECRET_ENV}")
    if not secret:
        raise ConfigError(path, "cluster.secret", problem)
    return secret


def _api_section(path: Path, values: dict[str, Any], nodes: tuple[str, ...]) -> ApiSection:
    origins = tuple(
        o if o == "*" else _parse_url(path, "api.cors_origins", o, need_port=False)
        for o in values["cors_origins"]
    )
    token = _inline_or_file(path, "api", "token", values) or None
    if values["protect_reads"] and token is None:
        raise ConfigError(path, "api.protect_reads", "needs api.token or api.token_file")
    del values["token_file"]
    return ApiSection(**{**values, "cors_origins": origins or nodes, "token": token})


def _inline_or_file(path: Path, section: str, name: str, values: dict[str, Any]) -> str | None:
    """The stripped inline value of ``name``, else the stripped text of the file named by ``<name>_file``
    (relative to the config's directory; it must be readable and not empty), else None."""
    if values[f"{name}_file"] is None:
        return None if values[name] is None else values[name].strip()
    key, file = f"{section}.{name}_file", path.parent / values[f"{name}_file"]
    try:
        text = file.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else "not UTF-8"
        raise ConfigError(path, key, f"cannot read {file}: {reason}") from None
    if not text:
        raise ConfigError(path, key, f"{file} is empty")
    return text


def _parse_url(path: Path, key: str, value: str, *, need_port: bool) -> str:
    """``value`` normalised to ``scheme://host[:port]`` (lower case, no trailing "/"). Raises ConfigError
    unless it is an http(s) URL with a host, a port if ``need_port``, and no path, query or credentials."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(path, key, f"invalid URL {_show(value)}: {exc}") from None
    problem = (
        "must be an http or https URL"
        if parts.scheme not in ("http", "https")
        else "has no host"
        if not parts.hostname
        else "needs a port in 1..65535"
        if need_port and not port
        else "must not have a path, query or credentials"
        if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc
        else None
    )
    if problem:
        raise ConfigError(path, key, f"{problem}, got {_show(value)}")
    return _format_url(parts.scheme, parts.hostname, port)


def _format_url(scheme: str, host: str, port: int | None) -> str:
    netloc = f"[{host}]" if ":" in host else host
    return f"{scheme}://{netloc}" if port is None else f"{scheme}://{netloc}:{port}"


def _suggest(word: str, known: Mapping[str, Any], what: str, prefix: str = "") -> str:
    close = difflib.get_close_matches(word, known, n=1)
    return f" (did you mean {prefix}{close[0]}?)" if close else f"; known {what}: {', '.join(known)}"


def _show(value: Any) -> str:
    """A value as it would look in TOML, on one line, shortened if long."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."

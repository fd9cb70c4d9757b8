"""The config file: the shipped configs load, defaults fill gaps, and every mistake is one clear line."""

from __future__ import annotations

import base64
import dataclasses
import secrets
import shutil
import string
from pathlib import Path

import pytest

from todonode import certs
from todonode.config import SECRET_ENV, Config, ConfigError, is_loopback_host, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
# Secrets strong enough to be accepted: 32 random bytes each, in hex.
SECRET = "9e129fd2dd88e6d3670e96d0f5fc1ea2473d4e7f5b150797e6fefd58998be73d"
ENV_SECRET = "5a72280ac9068a464d8c4ed3c0e7f3faf4351ab9b938b4e2dab572947697512f"
FILE_SECRET = "d7c632267f20e1dc9b6b7cd252ce3c62cad1d94c697384c4b2d68c074f512c5b"
NODES = '["http://127.0.0.1:4000", "http://127.0.0.1:4001", "http://127.0.0.1:4002"]'


def config_text(**overrides: dict[str, str | None]) -> str:
    """A minimal valid config with keys replaced (raw TOML values) or, for None, removed."""
    sections: dict[str, dict[str, str]] = {
        "node": {"port": "4000"},
        "cluster": {"nodes": NODES, "secret": f'"{SECRET}"'},
    }
    for section, keys in overrides.items():
        table = sections.setdefault(section, {})
        for key, value in keys.items():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
    return "".join(
        f"[{name}]\n" + "".join(f"{key} = {value}\n" for key, value in keys.items())
        for name, keys in sections.items()
    )


def write(directory: Path, text: str, name: str = "node.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def load(directory: Path, env: dict[str, str] | None = None, **overrides: dict[str, str | None]) -> Config:
    return load_config(write(directory, config_text(**overrides)), environ=env or {})


def config_error(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=env or {})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


# --- the shipped configs ---


@pytest.mark.parametrize("port", [4000, 4001, 4002, 4003])
def test_shipped_config_loads_with_secret_from_environment(port: int) -> None:
    config = load_config(CONFIGS / f"node{port}.toml", environ={SECRET_ENV: ENV_SECRET})

    assert config.node.id == f"node{port}"
    assert config.node.data_dir == Path.cwd() / f"data/node{port}"
    assert config.self_url == f"http://127.0.0.1:{port}"
    assert len(config.peers) == 3 and config.self_url not in config.peers
    assert config.cluster.secret == ENV_SECRET
    assert config.preference_order() == ("node4000", "node4001", "node4002", "node4003")
    assert is_loopback_host(config.node.host)


def test_shipped_configs_agree_on_the_cluster() -> None:
    env = {SECRET_ENV: ENV_SECRET}
    configs = [load_config(CONFIGS / f"node{port}.toml", environ=env) for port in (4000, 4001, 4002, 4003)]

    assert len({c.cluster for c in configs}) == 1
    assert len({c.storage for c in configs}) == 1
    assert len({c.api for c in configs}) == 1


def test_shipped_config_reads_the_secret_file_next_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(CONFIGS / "node4001.toml", tmp_path)
    (tmp_path / "cluster.secret").write_text(FILE_SECRET + "\n")
    (tmp_path / "cluster.secret").chmod(0o600)
    monkeypatch.chdir(CONFIGS)  # the secret file is found relative to the config, not the working directory

    config = load_config(tmp_path / "node4001.toml", environ={})

    assert config.cluster.secret == FILE_SECRET


def test_shipped_config_without_its_secret_file_names_the_file(tmp_path: Path) -> None:
    shutil.copy(CONFIGS / "node4000.toml", tmp_path)

    message = config_error(tmp_path / "node4000.toml")

    assert f"cluster.secret_file: cannot read {tmp_path / 'cluster.secret'}: No such file" in message


# --- defaults ---


def test_defaults_fill_every_key_left_out(tmp_path: Path) -> None:
    config = load(tmp_path)

    assert config.path == tmp_path / "node.toml"
    assert config.node == dataclasses.replace(
        config.node,
        id="node4000",
        host="127.0.0.1",
        port=4000,
        data_dir=Path.cwd() / "data/node4000",
        event_loop="auto",
    )
    cluster = config.cluster
    assert (cluster.heartbeat_ms, cluster.election_timeout_ms, cluster.tick_ms) == (100, 500, 10)
    assert (cluster.heartbeat_ticks, cluster.election_ticks) == (10, 50)
    assert cluster.prefer_lowest_port is True
    assert (cluster.leader_settle_ms, cluster.write_wait_ms) == (3000, 3000)
    assert (cluster.lease_reads, cluster.lease_drift_margin_ms, cluster.lease_drift_ticks) == (
        False,
        100,
        None,
    )
    storage = config.storage
    assert storage.fsync is True
    assert (storage.snapshot_every, storage.snapshot_interval_s) == (10_000, 300)
    assert storage.segment_bytes == 64 << 20
    assert (storage.max_tasks, storage.max_bytes) == (200_000, 64 << 20)
    api = config.api
    assert api.forward_writes is True
    assert (api.max_body_bytes, api.max_title_chars, api.max_batch) == (1 << 20, 500, 1000)
    assert api.cors_origins == cluster.nodes
    assert api.token is None and api.protect_reads is False
    assert config.demo.enabled is False and config.demo.report_ms == 200
    assert api.max_event_streams == 256


def test_data_dir_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    monkeypatch.chdir(tmp_path)

    config = load(tmp_path / "conf", node={"data_dir": '"state/a"'})

    assert config.node.data_dir == tmp_path / "state/a"


def test_sections_are_frozen_and_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    config = load(tmp_path, api={"token": '"client-token"'})

    with pytest.raises(dataclasses.FrozenInstanceError):
        config.node.port = 1  # type: ignore[misc]
    assert SECRET not in repr(config) and "client-token" not in repr(config)


# --- cluster members ---


def test_member_ids_derive_from_ports_and_self_is_matched_by_host_and_port(tmp_path: Path) -> None:
    nodes = '["http://10.0.0.2:4001", "HTTP://LocalHost:4000/", "http://[::1]:4002"]'
    config = load(tmp_path, node={"host": '"localhost"', "id": '"node4000"'}, cluster={"nodes": nodes})

    assert config.cluster.nodes == ("http://10.0.0.2:4001", "http://localhost:4000", "http://[::1]:4002")
    assert config.members == {
        "node4001": "http://10.0.0.2:4001",
        "node4000": "http://localhost:4000",
        "node4002": "http://[::1]:4002",
    }
    assert config.self_url == "http://localhost:4000"
    assert config.peers == ("http://10.0.0.2:4001", "http://[::1]:4002")


def test_preference_order_is_by_port_not_list_position(tmp_path: Path) -> None:
    nodes = (
        '["http://127.0.0.1:4002", "http://127.0.0.1:4000", "http://127.0.0.1:4003", "http://127.0.0.1:4001"]'
    )

    config = load(tmp_path, cluster={"nodes": nodes})

    assert config.preference_order() == ("node4000", "node4001", "node4002", "node4003")


def test_preference_order_without_prefer_lowest_port_is_list_order(tmp_path: Path) -> None:
    nodes = '["http://127.0.0.1:4002", "http://127.0.0.1:4000", "http://127.0.0.1:4001"]'

    config = load(tmp_path, cluster={"nodes": nodes, "prefer_lowest_port": "false"})

    assert config.preference_order() == ("node4002", "node4000", "node4001")


def test_one_node_cluster(tmp_path: Path) -> None:
    config = load(tmp_path, node={"port": "4000"}, cluster={"nodes": '["http://127.0.0.1:4000"]'})

    assert config.peers == ()
    assert config.members == {"node4000": "http://127.0.0.1:4000"}
    assert config.preference_order() == ("node4000",)


# --- the secret and the client token ---


def test_environment_secret_overrides_inline_secret(tmp_path: Path) -> None:
    assert load(tmp_path, env={SECRET_ENV: f" {ENV_SECRET} "}).cluster.secret == ENV_SECRET


def test_environment_secret_overrides_secret_file_which_is_then_not_read(tmp_path: Path) -> None:
    cluster = {"secret": None, "secret_file": '"missing"'}
    config = load(tmp_path, env={SECRET_ENV: ENV_SECRET}, cluster=cluster)

    assert config.cluster.secret == ENV_SECRET


def test_environ_defaults_to_the_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, ENV_SECRET)

    assert load_config(write(tmp_path, config_text())).cluster.secret == ENV_SECRET


def test_empty_environment_secret_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, config_text())

    assert config_error(path, {SECRET_ENV: "  "}) == f"{path}: cluster.secret: {SECRET_ENV} is set but empty"


def test_token_from_file_and_empty_token_means_none(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("tok\n")
    (tmp_path / "token").chmod(0o600)

    from_file = load(tmp_path, api={"token_file": '"token"', "protect_reads": "true"}).api
    empty = load(tmp_path, api={"token": '""'}).api

    assert (from_file.token, from_file.protect_reads) == ("tok", True)
    assert empty.token is None


def test_allowed_hosts_are_kept_as_hosts_are_compared(tmp_path: Path) -> None:
    assert load(tmp_path).api.allowed_hosts == ()
    config = load(tmp_path, api={"allowed_hosts": '["Todo.LAN.", "[FE80::0:1]", "10.0.0.5", "*"]'})
    assert config.api.allowed_hosts == ("todo.lan", "fe80::1", "10.0.0.5", "*")


def test_explicit_cors_origins_are_normalised(tmp_path: Path) -> None:
    config = load(tmp_path, api={"cors_origins": '["https://Example.com/", "*"]'})

    assert config.api.cors_origins == ("https://example.com", "*")


# --- every mistake, one line naming file, key and problem ---


def test_error_message_shape(tmp_path: Path) -> None:
    path = write(tmp_path, config_text(cluster={"heartbeat_ms": '"fast"'}))

    assert config_error(path) == f'{path}: cluster.heartbeat_ms: must be an integer > 0, got "fast"'


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # types; TOML booleans are not integers
        ({"node": {"port": "true"}}, "node.port: must be an integer in 1..65535, got true"),
        ({"api": {"max_batch": "1.5"}}, "api.max_batch: must be an integer > 0, got 1.5"),
        ({"storage": {"fsync": '"yes"'}}, 'storage.fsync: must be true or false, got "yes"'),
        ({"node": {"host": "127"}}, "node.host: must be a string, got 127"),
        ({"cluster": {"nodes": '"http://127.0.0.1:4000"'}}, "cluster.nodes: must be a list of strings"),
        ({"cluster": {"nodes": "[4000]"}}, "cluster.nodes: must be a list of strings, got [4000]"),
        # ranges
        ({"node": {"port": "0"}}, "node.port: must be an integer in 1..65535, got 0"),
        ({"node": {"port": "65536"}}, "node.port: must be an integer in 1..65535, got 65536"),
        ({"cluster": {"heartbeat_ms": "0"}}, "cluster.heartbeat_ms: must be an integer > 0, got 0"),
        ({"cluster": {"write_wait_ms": "-1"}}, "cluster.write_wait_ms: must be an integer >= 0, got -1"),
        ({"storage": {"segment_bytes": "0"}}, "storage.segment_bytes: must be an integer > 0"),
        (
            {"cluster": {"snapshot_chunk_bytes": "4194305"}},
            "cluster.snapshot_chunk_bytes: must be an integer in 1..4194304, got 4194305",
        ),
        ({"api": {"max_body_bytes": "-5"}}, "api.max_body_bytes: must be an integer > 0"),
        ({"cluster": {"heartbeat_ms": "200"}}, "cluster.election_timeout_ms: must be >= 3 * cluster.heart"),
        ({"cluster": {"heartbeat_ms": "105"}}, "cluster.heartbeat_ms: must be a multiple of cluster.tick_ms"),
        ({"cluster": {"tick_ms": "30"}}, "cluster.heartbeat_ms: must be a multiple of cluster.tick_ms (30)"),
        ({"cluster": {"election_timeout_ms": "505"}}, "cluster.election_timeout_ms: must be a multiple of"),
        (
            {"cluster": {"lease_reads": "true", "lease_drift_margin_ms": "490"}},
            "cluster.lease_drift_margin_ms: leaves no lease: it must be at most cluster.election_timeout_ms "
            "less two ticks (480), got 490",
        ),
        # unknown and missing keys
        (
            {"cluster": {"heartbeat": "100"}},
            "cluster.heartbeat: unknown key (did you mean cluster.heartbeat_ms?)",
        ),
        ({"api": {"zzz": "1"}}, "api.zzz: unknown key; known keys in [api]: forward_writes"),
        ({"clustr": {"x": "1"}}, "clustr: unknown section (did you mean cluster?)"),
        ({"qqq": {"x": "1"}}, "qqq: unknown section; known sections: node, cluster, storage, api"),
        ({"node": {"port": None}}, "node.port: is required"),
        ({"cluster": {"nodes": None}}, "cluster.nodes: is required"),
        # cluster members
        ({"cluster": {"nodes": '["ftp://127.0.0.1:4000"]'}}, "cluster.nodes: must be an http or https URL"),
        ({"cluster": {"nodes": '["127.0.0.1:4000"]'}}, "cluster.nodes: must be an http or https URL"),
        ({"cluster": {"nodes": '["http://127.0.0.1"]'}}, "cluster.nodes: needs a port in 1..65535"),
        ({"cluster": {"nodes": '["http://:4000"]'}}, "cluster.nodes: has no host"),
        ({"cluster": {"nodes": '["http://127.0.0.1:4000/api"]'}}, "cluster.nodes: must not have a path"),
        ({"cluster": {"nodes": '["http://127.0.0.1:4000?x=1"]'}}, "cluster.nodes: must not have a path, q"),
        ({"cluster": {"nodes": '["http://u:p@127.0.0.1:4000"]'}}, "or credentials"),
        ({"cluster": {"nodes": '["http://127.0.0.1:99999"]'}}, "cluster.nodes: invalid URL"),
        ({"cluster": {"nodes": '["http://[::1:4000"]'}}, "cluster.nodes: invalid URL"),
        (
            {"cluster": {"nodes": '["http://127.0.0.1:4000", "http://127.0.0.1:4000/"]'}},
            "cluster.nodes: lists http://127.0.0.1:4000 twice",
        ),
        ({"node": {"port": "4005"}}, "cluster.nodes: must include this node, http://127.0.0.1:4005"),
        ({"node": {"host": '"localhost"'}}, "cluster.nodes: must include this node, http://localhost:4000"),
        ({"cluster": {"nodes": "[]"}}, "cluster.nodes: must include this node"),
        (
            {"node": {"id": '"alpha"'}},
            'node.id: must be "node4000" (ids derive from cluster.nodes), got "alpha"',
        ),
        ({"node": {"host": '""'}}, "node.host: must not be empty"),
        ({"node": {"data_dir": '""'}}, "node.data_dir: must not be empty"),
        (
            {"node": {"event_loop": '"trio"'}},
            'node.event_loop: must be one of "auto", "uvloop", "asyncio", got "trio"',
        ),
        # secret and token
        ({"cluster": {"secret": None}}, "cluster.secret: is required: set secret, secret_file or TODONODE"),
        ({"cluster": {"secret": '"  "'}}, "cluster.secret: must not be empty"),
        ({"cluster": {"secret_file": '"s"'}}, "cluster.secret_file: set cluster.secret or cluster.secret_f"),
        ({"cluster": {"secret": None, "secret_file": '"nope"'}}, "cluster.secret_file: cannot read"),
        ({"api": {"token_file": '"nope"'}}, "api.token_file: cannot read"),
        ({"api": {"token": '"t"', "token_file": '"t"'}}, "api.token_file: set api.token or api.token_file"),
        ({"api": {"protect_reads": "true"}}, "api.protect_reads: needs api.token or api.token_file"),
        ({"api": {"cors_origins": '["example.com"]'}}, "api.cors_origins: must be an http or https URL"),
        ({"api": {"cors_origins": '["http://a.test/x"]'}}, "api.cors_origins: must not have a path"),
        # demo mode
        ({"demo": {"supervisor": '""'}}, "demo.supervisor: must not be empty"),
        ({"demo": {"report_ms": "0"}}, "demo.report_ms: must be an integer > 0, got 0"),
        ({"api": {"allowed_hosts": '["todo.lan:4000"]'}}, "api.allowed_hosts: must be host names or addres"),
        ({"api": {"allowed_hosts": '["http://todo.lan"]'}}, "api.allowed_hosts: must be host names or addr"),
    ],
)
def test_invalid_config_is_one_line_naming_the_key(
    tmp_path: Path, overrides: dict[str, dict[str, str | None]], expected: str
) -> None:
    path = write(tmp_path, config_text(**overrides))

    assert expected in config_error(path)


def test_empty_secret_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text(" \n")
    (tmp_path / "empty").chmod(0o600)
    path = write(tmp_path, config_text(cluster={"secret": None, "secret_file": '"empty"'}))

    assert config_error(path) == f"{path}: cluster.secret_file: {tmp_path / 'empty'} is empty"


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, "storage = 5\n" + config_text())

    assert config_error(path) == f"{path}: storage: must be a table [storage], got 5"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    assert config_error(path) == f"{path}: cannot read config file: No such file or directory"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert "cannot read config file" in config_error(tmp_path)


def test_invalid_toml_reports_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "[node]\nport = 4000\nhost 127.0.0.1\n")

    message = config_error(path)

    assert message.startswith(f"{path}: invalid TOML: ")
    assert "line 3" in message and "column" in message


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_bytes(b'[node]\nhost = "\xff"\n')

    assert config_error(path) == f"{path}: invalid TOML: not UTF-8 (byte 15)"


# --- exact lines: a value of the wrong kind anywhere in a key (in its list, a table in its place) ---


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"cluster": {"nodes": '["http://127.0.0.1:4000", 4001]'}},
            'cluster.nodes: must be a list of strings, got ["http://127.0.0.1:4000", 4001]',
        ),
        (
            {"api": {"cors_origins": '["http://a.test", true]'}},
            'api.cors_origins: must be a list of strings, got ["http://a.test", true]',
        ),
        (
            {"cluster": {"nodes": '{ a = "http://127.0.0.1:4000" }'}},
            'cluster.nodes: must be a list of strings, got {"a": "http://127.0.0.1:4000"}',
        ),
        (
            {"node": {"port": "{ value = 4000 }"}},
            'node.port: must be an integer in 1..65535, got {"value": 4000}',
        ),
        ({"node": {"port": "4000.0"}}, "node.port: must be an integer in 1..65535, got 4000.0"),
        ({"cluster": {"heartbeat_ms": "100.0"}}, "cluster.heartbeat_ms: must be an integer > 0, got 100.0"),
        (
            {"cluster": {"leader_settle_ms": "[]"}},
            "cluster.leader_settle_ms: must be an integer >= 0, got []",
        ),
        ({"node": {"event_loop": "1"}}, 'node.event_loop: must be one of "auto", "uvloop", "asyncio", got 1'),
        ({"node": {"id": "4000"}}, "node.id: must be a string, got 4000"),
        ({"node": {"data_dir": "false"}}, "node.data_dir: must be a string, got false"),
        ({"cluster": {"secret": None, "secret_file": "5"}}, "cluster.secret_file: must be a string, got 5"),
        ({"api": {"token": "true"}}, "api.token: must be a string, got true"),
        ({"api": {"metrics": "1"}}, "api.metrics: must be true or false, got 1"),
        # keys the file states in a form of their own are known keys, with suggestions like any other
        (
            {"cluster": {"secret_fil": '"s"'}},
            "cluster.secret_fil: unknown key (did you mean cluster.secret_file?)",
        ),
        ({"api": {"token_fle": '"t"'}}, "api.token_fle: unknown key (did you mean api.token_file?)"),
        ({"node": {"data": '"d"'}}, "node.data: unknown key (did you mean node.data_dir?)"),
    ],
)
def test_mistake_is_exactly_this_line(
    tmp_path: Path, overrides: dict[str, dict[str, str | None]], expected: str
) -> None:
    path = write(tmp_path, config_text(**overrides))

    assert config_error(path) == f"{path}: {expected}"


def test_sub_table_where_a_value_belongs(tmp_path: Path) -> None:
    path = write(tmp_path, config_text() + '[node.host]\nname = "x"\n')

    assert config_error(path) == f'{path}: node.host: must be a string, got {{"name": "x"}}'


def test_array_of_tables_where_a_section_belongs(tmp_path: Path) -> None:
    path = write(tmp_path, config_text() + "[[api]]\nmax_batch = 1\n")

    assert config_error(path) == f'{path}: api: must be a table [api], got [{{"max_batch": 1}}]'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "node.port: is required"),
        ("[node]\nport = 4000\n", "cluster.nodes: is required"),
    ],
)
def test_missing_section_reports_its_first_required_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)

    assert config_error(path) == f"{path}: {expected}"


def test_misspelt_section_is_named_rather_than_the_keys_its_real_one_lacks(tmp_path: Path) -> None:
    path = write(tmp_path, "[node]\nport = 4000\n[clustr]\nnodes = []\n")

    assert config_error(path) == f"{path}: clustr: unknown section (did you mean cluster?)"


def test_secret_and_secret_file_together_is_an_error_even_with_the_env_secret(tmp_path: Path) -> None:
    path = write(tmp_path, config_text(cluster={"secret_file": '"s"'}))

    message = config_error(path, {SECRET_ENV: ENV_SECRET})

    assert message == f"{path}: cluster.secret_file: set cluster.secret or cluster.secret_file, not both"


# --- hosts ---


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("app.localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_members_on_different_hosts_sharing_a_port_are_named_by_host_and_port(tmp_path: Path) -> None:
    # One address per host, one port for all: the shape of a cluster spread over machines.
    nodes = '["http://10.0.0.3:4000", "http://10.0.0.1:4000", "http://10.0.0.2:4000"]'
    node = {"host": '"10.0.0.1"', "insecure_plaintext": "true"}
    config = load(tmp_path, node=node, cluster={"nodes": nodes})

    assert config.node.id == "10.0.0.1:4000"
    assert list(config.members) == ["10.0.0.3:4000", "10.0.0.1:4000", "10.0.0.2:4000"]
    # Equal ports: preference falls back to the order of the list.
    assert config.preference_order() == ("10.0.0.3:4000", "10.0.0.1:4000", "10.0.0.2:4000")
    assert config.node.data_dir.name == "10.0.0.1-4000"


# --- secure defaults: strong secrets, private files, TLS beyond loopback ---


@pytest.mark.parametrize(
    "secret",
    [
        "change-me",
        "s3cret",
        "a" * 64,  # long, but one character
        "0123456789abcdef",  # hex, 64 bits
        secrets.token_hex(16),  # 128 bits
        secrets.token_urlsafe(31),  # 246 bits
        "correct horse battery staple",
    ],
    ids=["example", "short", "one_character", "hex_8_bytes", "hex_16_bytes", "base64_31_bytes", "words"],
)
def test_a_secret_with_less_than_32_bytes_of_entropy_is_refused(tmp_path: Path, secret: str) -> None:
    path = write(tmp_path, config_text(cluster={"secret": f'"{secret}"'}))

    message = config_error(path)

    assert "cluster.secret: is too weak: about" in message and "at least 256 needed" in message
    assert "openssl rand -hex 32" in message and secret not in message


def test_a_weak_secret_from_the_environment_is_refused_and_says_where_it_came_from(tmp_path: Path) -> None:
    path = write(tmp_path, config_text())

    assert "cluster.secret: is too weak (from TODONODE_SECRET)" in config_error(path, {SECRET_ENV: "short"})


@pytest.mark.parametrize(
    "secret",
    [
        secrets.token_hex(32),
        secrets.token_hex(32).upper(),
        secrets.token_urlsafe(32),
        base64.b64encode(secrets.token_bytes(32)).decode(),
        "".join(secrets.choice(string.printable[:94]) for _ in range(40)),
    ],
    ids=["hex", "hex_upper_case", "base64url", "base64", "printable"],
)
def test_a_secret_of_32_random_bytes_in_any_usual_form_is_accepted(tmp_path: Path, secret: str) -> None:
    assert load(tmp_path, {SECRET_ENV: secret}).cluster.secret == secret


@pytest.mark.parametrize(("key", "mode"), [("secret_file", 0o644), ("secret_file", 0o640)])
def test_a_secret_file_open_to_others_is_refused_naming_it(tmp_path: Path, key: str, mode: int) -> None:
    (tmp_path / "secret").write_text(SECRET)
    (tmp_path / "secret").chmod(mode)
    path = write(tmp_path, config_text(cluster={"secret": None, key: '"secret"'}))

    message = config_error(path)

    assert f"cluster.secret_file: {tmp_path / 'secret'} is open to" in message
    assert f"(mode 0{mode:o}); make it private: chmod 600 {tmp_path / 'secret'}" in message


@pytest.mark.parametrize("key", ["token_file", "admin_token_file"])
def test_token_files_must_be_private_too(tmp_path: Path, key: str) -> None:
    (tmp_path / "token").write_text("a-token")
    (tmp_path / "token").chmod(0o604)
    path = write(tmp_path, config_text(api={key: '"token"'}))

    assert f"api.{key}: {tmp_path / 'token'} is open to other users (mode 0604)" in config_error(path)


def test_admin_token_from_file_or_inline_and_never_the_client_token(tmp_path: Path) -> None:
    (tmp_path / "admin").write_text("the-admin-token\n")
    (tmp_path / "admin").chmod(0o600)

    assert load(tmp_path, api={"admin_token_file": '"admin"'}).api.admin_token == "the-admin-token"
    assert load(tmp_path, api={"admin_token": '"x"'}).api.admin_token == "x"
    assert load(tmp_path).api.admin_token is None
    path = write(tmp_path, config_text(api={"token": '"same"', "admin_token": '"same"'}))
    assert "api.admin_token: must differ from api.token" in config_error(path)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "node1.example", "::"])
def test_a_node_beyond_loopback_without_tls_is_refused_unless_plaintext_is_asked_for(
    tmp_path: Path, host: str
) -> None:
    url = f"http://[{host}]:4000" if ":" in host else f"http://{host}:4000"
    nodes = f'["{url}", "http://10.0.0.2:4000"]'
    path = write(tmp_path, config_text(node={"host": f'"{host}"'}, cluster={"nodes": nodes}))

    message = config_error(path)

    assert f"node.host: {host!r} is reachable from other machines, and this node has no TLS" in message
    assert "todonode certs init" in message and "node.insecure_plaintext = true" in message
    plain = load(tmp_path, node={"host": f'"{host}"', "insecure_plaintext": "true"}, cluster={"nodes": nodes})
    assert plain.plaintext_beyond_loopback


def test_loopback_needs_no_tls(tmp_path: Path) -> None:
    config = load(tmp_path)

    assert not config.tls.enabled and not config.plaintext_beyond_loopback
    assert config.node.insecure_plaintext is False and config.node.peer_port is None


# --- [tls] ---


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("certs") / "certs"
    certs.init(
        directory, [certs.Member("node4000", ("127.0.0.1",)), certs.Member("node4001", ("127.0.0.1",))]
    )
    return directory


TLS_NODES = '["https://127.0.0.1:4000", "https://127.0.0.1:4001", "https://127.0.0.1:4002"]'


def tls_keys(cert_dir: Path, name: str = "node4000", *, ca: bool = True) -> dict[str, str | None]:
    return {
        "cert_file": f'"{cert_dir / f"{name}.crt"}"',
        "key_file": f'"{cert_dir / f"{name}.key"}"',
        "ca_file": f'"{cert_dir / "ca.crt"}"' if ca else None,
    }


def test_tls_files_resolve_against_the_config_and_members_are_https(tmp_path: Path, cert_dir: Path) -> None:
    shutil.copytree(cert_dir, tmp_path / "certs")
    keys = {
        "cert_file": '"certs/node4000.crt"',
        "key_file": '"certs/node4000.key"',
        "ca_file": '"certs/ca.crt"',
    }

    config = load(tmp_path, cluster={"nodes": TLS_NODES}, tls=keys)

    assert config.tls.cert_file == tmp_path / "certs/node4000.crt"
    assert config.tls.ca_file == tmp_path / "certs/ca.crt"
    assert config.tls.enabled and config.tls.mutual
    assert config.self_url == "https://127.0.0.1:4000"


def test_tls_without_a_ca_is_tls_for_everyone_but_not_mutual(tmp_path: Path, cert_dir: Path) -> None:
    config = load(tmp_path, cluster={"nodes": TLS_NODES}, tls=tls_keys(cert_dir, ca=False))

    assert config.tls.enabled and not config.tls.mutual


def test_tls_beyond_loopback_needs_no_plaintext_permission(tmp_path: Path, cert_dir: Path) -> None:
    nodes = '["https://10.0.0.1:4000", "https://10.0.0.2:4000"]'

    config = load(tmp_path, node={"host": '"10.0.0.1"'}, cluster={"nodes": nodes}, tls=tls_keys(cert_dir))

    assert config.tls.enabled and not config.plaintext_beyond_loopback


def test_a_private_key_open_to_others_is_refused(tmp_path: Path, cert_dir: Path) -> None:
    key = tmp_path / "open.key"
    shutil.copy(cert_dir / "node4000.key", key)
    key.chmod(0o644)
    keys = {**tls_keys(cert_dir), "key_file": f'"{key}"'}
    path = write(tmp_path, config_text(cluster={"nodes": TLS_NODES}, tls=keys))

    assert (
        f"tls.key_file: {key} is open to other users (mode 0644); make it private: chmod 600"
        in config_error(path)
    )


@pytest.mark.parametrize(
    ("tls", "cluster", "expected"),
    [
        (
            {"key_file": None},
            TLS_NODES,
            "tls.key_file: is required: tls.cert_file and tls.key_file go together",
        ),
        ({"cert_file": None}, TLS_NODES, "tls.cert_file: is required: tls.cert_file and tls.key_file go"),
        ({"cert_file": None, "key_file": None}, NODES, "tls.ca_file: needs tls.cert_file and tls.key_file"),
        ({}, NODES, "cluster.nodes: must be https:// URLs as [tls] is set, got http://127.0.0.1:4000"),
        ({"ca_file": '"missing.crt"'}, TLS_NODES, "tls.ca_file: cannot read"),
        ({"cert_fil": '"x"'}, TLS_NODES, "tls.cert_fil: unknown key (did you mean tls.cert_file?)"),
    ],
)
def test_tls_mistakes_are_one_line(
    tmp_path: Path, cert_dir: Path, tls: dict[str, str | None], cluster: str, expected: str
) -> None:
    path = write(tmp_path, config_text(cluster={"nodes": cluster}, tls={**tls_keys(cert_dir), **tls}))

    assert expected in config_error(path)


def test_https_members_without_tls_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, config_text(cluster={"nodes": TLS_NODES}))

    expected = "cluster.nodes: must be http:// URLs as [tls] cert_file and key_file are not set, got https://"
    assert expected in config_error(path)


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path: Path, cert_dir: Path) -> None:
    keys = {**tls_keys(cert_dir), "key_file": f'"{cert_dir / "node4001.key"}"'}
    path = write(tmp_path, config_text(cluster={"nodes": TLS_NODES}, tls=keys))

    assert "tls.key_file: " in config_error(path) and "are not a PEM certificate and its key" in config_error(
        path
    )


def test_a_ca_file_that_is_not_pem_is_refused(tmp_path: Path, cert_dir: Path) -> None:
    (tmp_path / "ca.crt").write_text("not a certificate")
    keys = {**tls_keys(cert_dir), "ca_file": '"ca.crt"'}
    path = write(tmp_path, config_text(cluster={"nodes": TLS_NODES}, tls=keys))

    assert "tls.ca_file: " in config_error(path) and "is not a PEM certificate" in config_error(path)


# --- a listener for peers ---

HOSTS = '["https://10.0.0.1:4000", "https://10.0.0.2:4000", "https://10.0.0.3:4000"]'


def test_peers_reach_every_member_at_its_host_and_the_peer_port(tmp_path: Path, cert_dir: Path) -> None:
    node = {"host": '"10.0.0.1"', "peer_port": "4100"}

    config = load(tmp_path, node=node, cluster={"nodes": HOSTS}, tls=tls_keys(cert_dir))

    assert config.peer_urls == {
        "10.0.0.1:4000": "https://10.0.0.1:4100",
        "10.0.0.2:4000": "https://10.0.0.2:4100",
        "10.0.0.3:4000": "https://10.0.0.3:4100",
    }
    assert load(tmp_path).peer_urls == load(tmp_path).members  # without peer_port, the member URLs


@pytest.mark.parametrize(
    ("node", "nodes", "expected"),
    [
        ({"peer_port": "4000"}, NODES, "node.peer_port: must differ from node.port (4000)"),
        ({"peer_port": "4100"}, NODES, "node.peer_port: needs every member on a host of its own"),
        ({"peer_port": "0"}, NODES, "node.peer_port: must be an integer in 1..65535, got 0"),
        ({"insecure_plaintext": '"yes"'}, NODES, "node.insecure_plaintext: must be true or false"),
    ],
)
def test_peer_port_mistakes_are_one_line(
    tmp_path: Path, node: dict[str, str], nodes: str, expected: str
) -> None:
    path = write(tmp_path, config_text(node=node, cluster={"nodes": nodes}))

    assert expected in config_error(path)


# --- demo mode ---


def test_demo_mode_names_the_supervisor_socket_relative_to_the_config(tmp_path: Path) -> None:
    demo = load(tmp_path, demo={"supervisor": '"run/supervisor.sock"', "report_ms": "50"}).demo
    assert demo.enabled
    assert demo.supervisor == tmp_path / "run" / "supervisor.sock"
    assert demo.report_ms == 50


def test_demo_mode_is_refused_beyond_loopback(tmp_path: Path) -> None:
    nodes = '["http://10.0.0.1:4000", "http://10.0.0.2:4000"]'
    text = config_text(
        node={"host": '"10.0.0.1"'}, cluster={"nodes": nodes}, demo={"supervisor": '"/run/s.sock"'}
    )
    message = config_error(write(tmp_path, text))
    assert "demo.supervisor: needs node.host on loopback, got '10.0.0.1'" in message


def test_the_shipped_joining_node_names_itself_alone_and_a_member_to_join() -> None:
    config = load_config(CONFIGS / "join" / "node4004.toml", environ={SECRET_ENV: ENV_SECRET})
    assert config.cluster.nodes == ("http://127.0.0.1:4004",)
    assert config.cluster.join == "http://127.0.0.1:4000" and config.node.id == "node4004"


def test_join_must_be_a_member_url_with_a_port(tmp_path: Path) -> None:
    text = (CONFIGS / "join" / "node4004.toml").read_text().replace('"http://127.0.0.1:4000"', '"http://h"')
    (tmp_path / "node.toml").write_text(text)
    with pytest.raises(ConfigError, match=r"cluster\.join: needs a port"):
        load_config(tmp_path / "node.toml", environ={SECRET_ENV: ENV_SECRET})


def test_the_lease_drift_margin_is_rounded_up_to_whole_ticks(tmp_path: Path) -> None:
    cluster = load(tmp_path, cluster={"lease_reads": "true", "lease_drift_margin_ms": "95"}).cluster
    assert cluster.lease_drift_ticks == 10
    cluster = load(tmp_path, cluster={"lease_reads": "true", "lease_drift_margin_ms": "480"}).cluster
    assert cluster.lease_drift_ticks == 48  # the most that leaves a lease: 50 - 1 - 48 = 1 tick

"""The config file: the shipped configs load, defaults fill gaps, and every mistake is one clear line."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from todonode.config import SECRET_ENV, Config, ConfigError, is_loopback_host, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
NODES = '["http://127.0.0.1:4000", "http://127.0.0.1:4001", "http://127.0.0.1:4002"]'


def config_text(**overrides: dict[str, str | None]) -> str:
    """A minimal valid config with keys replaced (raw TOML values) or, for None, removed."""
    sections: dict[str, dict[str, str]] = {
        "node": {"port": "4000"},
        "cluster": {"nodes": NODES, "secret": '"s3cret"'},
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
    config = load_config(CONFIGS / f"node{port}.toml", environ={SECRET_ENV: "from-env"})

    assert config.node.id == f"node{port}"
    assert config.node.data_dir == Path.cwd() / f"data/node{port}"
    assert config.self_url == f"http://127.0.0.1:{port}"
    assert len(config.peers) == 3 and config.self_url not in config.peers
    assert config.cluster.secret == "from-env"
    assert config.preference_order() == ("node4000", "node4001", "node4002", "node4003")
    assert is_loopback_host(config.node.host)


def test_shipped_configs_agree_on_the_cluster() -> None:
    env = {SECRET_ENV: "x"}
    configs = [load_config(CONFIGS / f"node{port}.toml", environ=env) for port in (4000, 4001, 4002, 4003)]

    assert len({c.cluster for c in configs}) == 1
    assert len({c.storage for c in configs}) == 1
    assert len({c.api for c in configs}) == 1


def test_shipped_config_reads_the_secret_file_next_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(CONFIGS / "node4001.toml", tmp_path)
    (tmp_path / "cluster.secret").write_text("generated-secret\n")
    monkeypatch.chdir(CONFIGS)  # the secret file is found relative to the config, not the working directory

    config = load_config(tmp_path / "node4001.toml", environ={})

    assert config.cluster.secret == "generated-secret"


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
    assert "s3cret" not in repr(config) and "client-token" not in repr(config)


# --- cluster members ---


def test_member_ids_derive_from_ports_and_self_is_matched_by_host_and_port(tmp_path: Path) -> None:
    nodes = '["http://10.0.0.2:4001", "HTTP://LocalHost:4000/", "https://[::1]:4002"]'
    config = load(tmp_path, node={"host": '"localhost"', "id": '"node4000"'}, cluster={"nodes": nodes})

    assert config.cluster.nodes == ("http://10.0.0.2:4001", "http://localhost:4000", "https://[::1]:4002")
    assert config.members == {
        "node4001": "http://10.0.0.2:4001",
        "node4000": "http://localhost:4000",
        "node4002": "https://[::1]:4002",
    }
    assert config.self_url == "http://localhost:4000"
    assert config.peers == ("http://10.0.0.2:4001", "https://[::1]:4002")


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
    assert load(tmp_path, env={SECRET_ENV: " env-secret "}).cluster.secret == "env-secret"


def test_environment_secret_overrides_secret_file_which_is_then_not_read(tmp_path: Path) -> None:
    config = load(tmp_path, env={SECRET_ENV: "env"}, cluster={"secret": None, "secret_file": '"missing"'})

    assert config.cluster.secret == "env"


def test_environ_defaults_to_the_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "process-env")

    assert load_config(write(tmp_path, config_text())).cluster.secret == "process-env"


def test_empty_environment_secret_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, config_text())

    assert config_error(path, {SECRET_ENV: "  "}) == f"{path}: cluster.secret: {SECRET_ENV} is set but empty"


def test_token_from_file_and_empty_token_means_none(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("tok\n")

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
        ({"api": {"max_body_bytes": "-5"}}, "api.max_body_bytes: must be an integer > 0"),
        ({"cluster": {"heartbeat_ms": "200"}}, "cluster.election_timeout_ms: must be >= 3 * cluster.heart"),
        ({"cluster": {"heartbeat_ms": "105"}}, "cluster.heartbeat_ms: must be a multiple of cluster.tick_ms"),
        ({"cluster": {"tick_ms": "30"}}, "cluster.heartbeat_ms: must be a multiple of cluster.tick_ms (30)"),
        ({"cluster": {"election_timeout_ms": "505"}}, "cluster.election_timeout_ms: must be a multiple of"),
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

    message = config_error(path, {SECRET_ENV: "from-env"})

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
    config = load(tmp_path, node={"host": '"10.0.0.1"'}, cluster={"nodes": nodes})

    assert config.node.id == "10.0.0.1:4000"
    assert list(config.members) == ["10.0.0.3:4000", "10.0.0.1:4000", "10.0.0.2:4000"]
    # Equal ports: preference falls back to the order of the list.
    assert config.preference_order() == ("10.0.0.3:4000", "10.0.0.1:4000", "10.0.0.2:4000")
    assert config.node.data_dir.name == "10.0.0.1-4000"


# --- refusing to listen beyond loopback with the example secret ---


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "node1.example"])
@pytest.mark.parametrize("secret", ['"change-me"', '" change-me\\n"'])
def test_the_example_secret_is_refused_beyond_loopback(tmp_path: Path, host: str, secret: str) -> None:
    nodes = f'["http://{host}:4000", "http://10.0.0.2:4000"]'
    text = config_text(node={"host": f'"{host}"'}, cluster={"nodes": nodes, "secret": secret})
    path = write(tmp_path, text)
    message = config_error(path)
    assert "cluster.secret: is the example secret" in message and host in message


def test_the_example_secret_may_stay_on_loopback_and_env_overrides_it(tmp_path: Path) -> None:
    assert load(tmp_path, cluster={"secret": '"change-me"'}).cluster.secret == "change-me"
    nodes = '["http://0.0.0.0:4000"]'
    overrides = {"node": {"host": '"0.0.0.0"'}, "cluster": {"nodes": nodes, "secret": '"change-me"'}}
    assert load(tmp_path, {SECRET_ENV: "a-real-one"}, **overrides).node.host == "0.0.0.0"
    with pytest.raises(ConfigError):
        load(tmp_path, {SECRET_ENV: "change-me"}, **overrides)

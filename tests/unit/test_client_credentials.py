"""The terminal client sends each credential only where it is needed: administration uses the admin
token if it has one, else a certificate from the cluster's CA, and the cluster secret only when it
has neither; everything else carries the client token alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from todonode import certs
from todonode.cli import parse_args
from todonode.client import Client, UsageError, _client

SECRET = "9e129fd2dd88e6d3670e96d0f5fc1ea2473d4e7f5b150797e6fefd58998be73d"


def client_for(config: Path, *extra: str) -> Client:
    return _client(parse_args(["cluster", "transfer-leader", "node4001", "--config", str(config), *extra]))


def write_config(directory: Path, *, tls: bool, api: str = "") -> Path:
    scheme = "https" if tls else "http"
    text = f'[node]\nport = 4000\n[cluster]\nnodes = ["{scheme}://127.0.0.1:4000"]\nsecret = "{SECRET}"\n'
    text += f"[api]\n{api}\n"
    if tls:
        certs.init(directory / "certs", [certs.Member("node4000", ("127.0.0.1",))])
        text += '[tls]\ncert_file = "certs/node4000.crt"\nkey_file = "certs/node4000.key"\n'
        text += 'ca_file = "certs/ca.crt"\n'
    path = directory / "node.toml"
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def _no_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TODONODE_SECRET", "TODONODE_TOKEN", "TODONODE_ADMIN_TOKEN", "TODONODE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_under_mutual_tls_the_nodes_certificate_administers_and_the_secret_stays_home(tmp_path: Path) -> None:
    client = client_for(write_config(tmp_path, tls=True, api='token = "client-token"'))

    assert client.admin is None and client.tls is not None
    assert client.token == "client-token" and client.urls == ["https://127.0.0.1:4000"]


def test_without_tls_administration_falls_back_to_the_secret(tmp_path: Path) -> None:
    client = client_for(write_config(tmp_path, tls=False, api='token = "client-token"'))

    assert client.admin == SECRET and client.tls is None


def test_the_admin_token_is_preferred_to_the_secret(tmp_path: Path) -> None:
    config = write_config(tmp_path, tls=False, api='admin_token = "from-config"')

    assert client_for(config).admin == "from-config"
    assert client_for(config, "--admin-token", "given").admin == "given"


def test_a_client_certificate_without_its_key_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, tls=True)
    with pytest.raises(UsageError, match="--cert and --key go together"):
        client_for(config, "--cert", str(tmp_path / "certs" / "client.crt"))

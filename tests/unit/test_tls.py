"""The TLS contexts, through real handshakes in memory, and whom a certificate names."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from todonode import certs
from todonode.config import TlsSection
from todonode.tls import PeerCertificate, client_context, member_named, server_context

ONE_HOST = {f"node{port}": f"https://127.0.0.1:{port}" for port in (4000, 4001, 4002)}
MANY_HOSTS = {f"10.0.0.{i}:4000": f"https://10.0.0.{i}:4000" for i in (1, 2, 3)}


@pytest.fixture(scope="module")
def cluster_certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls") / "ours"
    members = [certs.Member(name, ("127.0.0.1", "localhost")) for name in ONE_HOST]
    members.append(certs.Member("n1", ("10.0.0.1",)))
    certs.init(directory, members)
    return directory


@pytest.fixture(scope="module")
def other_certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another cluster's CA, with a certificate of the very same name."""
    directory = tmp_path_factory.mktemp("tls") / "theirs"
    certs.init(directory, [certs.Member("node4001", ("127.0.0.1",))])
    return directory


def section(directory: Path, name: str, *, ca: bool = True) -> TlsSection:
    return TlsSection(
        cert_file=directory / f"{name}.crt",
        key_file=directory / f"{name}.key",
        ca_file=directory / "ca.crt" if ca else None,
    )


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, host: str = "127.0.0.1") -> PeerCertificate:
    """A whole TLS handshake in memory; the client certificate the server verified ({} if none).
    Raises ssl.SSLError when either side refuses."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_end = client.wrap_bio(to_client, to_server, server_hostname=host)
    from_client, from_server = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_end = server.wrap_bio(from_client, from_server, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, end in (("client", client_end), ("server", server_end)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        from_client.write(to_server.read())
        to_client.write(from_server.read())
        if all(done.values()):
            # TLS 1.3: the server checks the client's certificate after the client has finished; a
            # refusal reaches the client on its first read.
            client_end.write(b"x")
            from_client.write(to_server.read())
            server_end.read(1)
            return server_end.getpeercert() or {}
    raise AssertionError("the handshake did not finish")


def test_a_member_certificate_names_its_member_to_the_client_listener(cluster_certs: Path) -> None:
    server = server_context(section(cluster_certs, "node4000"), require_certificate=False)
    client = client_context(section(cluster_certs, "node4001"), present_certificate=True)
    assert client is not None

    assert member_named(handshake(server, client), ONE_HOST) == "node4001"


def test_without_a_client_certificate_the_client_listener_still_serves(cluster_certs: Path) -> None:
    server = server_context(section(cluster_certs, "node4000"), require_certificate=False)
    client = client_context(section(cluster_certs, "node4001"), present_certificate=False)
    assert client is not None

    assert member_named(handshake(server, client), ONE_HOST) is None


def test_the_peer_listener_requires_a_client_certificate(cluster_certs: Path) -> None:
    server = server_context(section(cluster_certs, "node4000"), require_certificate=True)
    client = client_context(section(cluster_certs, "node4001"), present_certificate=False)
    assert client is not None

    with pytest.raises(ssl.SSLError):
        handshake(server, client)


@pytest.mark.parametrize("require", [False, True])
def test_a_certificate_from_another_ca_fails_the_handshake(
    cluster_certs: Path, other_certs: Path, require: bool
) -> None:
    server = server_context(section(cluster_certs, "node4000"), require_certificate=require)
    client = ssl.create_default_context(cafile=cluster_certs / "ca.crt")
    client.load_cert_chain(other_certs / "node4001.crt", other_certs / "node4001.key")

    with pytest.raises(ssl.SSLError):
        handshake(server, client)


def test_a_client_refuses_a_server_whose_certificate_another_ca_signed(
    cluster_certs: Path, other_certs: Path
) -> None:
    server = server_context(section(other_certs, "node4001"), require_certificate=False)
    client = client_context(section(cluster_certs, "node4000"), present_certificate=True)
    assert client is not None

    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(server, client)


def test_a_client_refuses_a_server_certificate_for_another_host(cluster_certs: Path) -> None:
    server = server_context(section(cluster_certs, "n1"), require_certificate=False)  # 10.0.0.1 only
    client = client_context(section(cluster_certs, "node4000"), present_certificate=False)
    assert client is not None

    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(server, client, host="127.0.0.1")


def test_without_tls_there_is_no_client_context() -> None:
    assert client_context(TlsSection(), present_certificate=True) is None


# --- whom a certificate names ---


def cert(common_name: str | None, *hosts: tuple[str, str]) -> PeerCertificate:
    """A certificate as ssl's getpeercert() decodes it."""
    subject = ((("commonName", common_name),),) if common_name else ()
    return {"subject": subject, "subjectAltName": hosts}


@pytest.mark.parametrize(
    ("certificate", "members", "named"),
    [
        pytest.param(cert("node4001", ("IP Address", "127.0.0.1")), ONE_HOST, "node4001", id="common_name"),
        pytest.param(cert("node9", ("IP Address", "127.0.0.1")), ONE_HOST, None, id="shared_host_is_no_name"),
        pytest.param(cert("n2", ("IP Address", "10.0.0.2")), MANY_HOSTS, "10.0.0.2:4000", id="host_alone"),
        pytest.param(cert(None, ("DNS", "10.0.0.3")), MANY_HOSTS, "10.0.0.3:4000", id="dns_form_of_address"),
        pytest.param(cert("todonode-client"), ONE_HOST, None, id="the_client"),
        pytest.param(cert("x", ("DNS", "10.0.0.9")), MANY_HOSTS, None, id="another_host"),
        pytest.param({}, ONE_HOST, None, id="no_certificate"),
        pytest.param(
            cert("n1", ("IP Address", "0:0:0:0:0:0:0:1")),
            {"a": "https://[::1]:4000", "b": "https://10.0.0.2:4000"},
            "a",
            id="ipv6_spelled_long",
        ),
        pytest.param(
            cert("b", ("DNS", "Node1.Example.")),
            {"a": "https://node1.example:4000", "b": "https://node2.example:4000"},
            "b",
            id="common_name_first",
        ),
    ],
)
def test_a_certificate_names_a_member_by_its_id_or_by_a_host_it_has_alone(
    certificate: PeerCertificate, members: dict[str, str], named: str | None
) -> None:
    assert member_named(certificate, members) == named


def test_a_dns_name_matches_whatever_its_case() -> None:
    members = {"a": "https://Node1.Example:4000", "b": "https://node2.example:4000"}

    assert member_named(cert(None, ("DNS", "NODE1.example")), members) == "a"


def test_a_node_without_tls_never_loads_the_certificate_library() -> None:
    # About 8 MB of every node's memory (docs/performance.md#where-the-memory-goes): only a node with
    # a certificate of its own needs it. A fresh interpreter, since this one loaded it for the tests.
    check = (
        "import sys, todonode.cli, todonode.app, todonode.node.facade\n"
        "from todonode.config import TlsSection\n"
        "from todonode.tls import served_hosts\n"
        "assert served_hosts(TlsSection()) == frozenset()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'cryptography'))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=True
    )
    assert loaded.stdout.strip() == "[]"

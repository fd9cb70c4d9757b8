"""``todonode certs init``: a CA, a certificate per member naming it and its hosts, one for the terminal
client; every file private from creation; nothing overwritten; every bad argument one clear line."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from todonode.certs import CLIENT_NAME, Member
from todonode.cli import main


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def common_name(certificate: x509.Certificate) -> str:
    return str(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def usages(certificate: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


@pytest.mark.usefixtures("no_umask")
def test_init_writes_a_ca_a_certificate_per_member_and_the_clients_all_private(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "certs"

    status = main(
        ["certs", "init", "--out", str(out), "node4000=127.0.0.1,localhost", "10.0.0.2:4000=10.0.0.2"]
    )

    assert status == 0
    names = {"ca", "node4000", "10.0.0.2-4000", "client"}
    assert {p.name for p in out.iterdir()} == {f"{n}.{ext}" for n in names for ext in ("crt", "key")}
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o600}
    ca = load(out / "ca.crt")
    member = load(out / "node4000.crt")
    assert common_name(member) == "node4000"
    hosts = member.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert hosts.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert hosts.get_values_for_type(x509.DNSName) == ["localhost"]
    assert usages(member) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    client = load(out / "client.crt")
    assert common_name(client) == CLIENT_NAME and usages(client) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    for leaf in (member, client, load(out / "10.0.0.2-4000.crt")):
        leaf.verify_directly_issued_by(ca)
    assert "ca_file = " in capsys.readouterr().out


def test_an_existing_ca_signs_new_members_and_nothing_is_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "certs"
    assert main(["certs", "init", "--out", str(out), "node4000=127.0.0.1"]) == 0
    ca_before = (out / "ca.crt").read_bytes()
    (out / "client.crt").rename(out / "first-client.crt")
    (out / "client.key").rename(out / "first-client.key")

    assert main(["certs", "init", "--out", str(out), "node4001=127.0.0.1"]) == 0
    assert (out / "ca.crt").read_bytes() == ca_before
    load(out / "node4001.crt").verify_directly_issued_by(load(out / "ca.crt"))

    capsys.readouterr()
    assert main(["certs", "init", "--out", str(out), "node4001=127.0.0.1"]) == 2
    assert capsys.readouterr().err == (
        f"todonode: {out / 'node4001.crt'} exists already; remove it, or choose another --out\n"
    )


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        (["node4000"], "'node4000': write NAME=HOST[,HOST...], e.g. node4000=127.0.0.1,localhost"),
        (["=127.0.0.1"], "'=127.0.0.1': the name '' must be 1-63 letters, digits"),
        (
            ["ca=127.0.0.1"],
            "the name 'ca' must be 1-63 letters, digits, '.', '_', ':', '-' or [] (not ca or client)",
        ),
        (["client=127.0.0.1"], "(not ca or client)"),
        (["../x=127.0.0.1"], "the name '../x' must be"),
        (["n1="], "'n1=': '' is neither an IP address nor a host name"),
        (["n1=bad host"], "'bad host' is neither an IP address nor a host name"),
        (["n1=a..b"], "'a..b' is neither"),
        (["n1=127.0.0.1", "n1=127.0.0.2"], "'n1' is given twice"),
    ],
)
def test_every_bad_argument_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], members: list[str], problem: str
) -> None:
    out = tmp_path / "certs"

    assert main(["certs", "init", "--out", str(out), *members]) == 2

    err = capsys.readouterr().err
    assert err.startswith("todonode: ") and problem in err and err.count("\n") == 1
    assert not out.exists()


def test_ipv6_hosts_with_or_without_brackets_become_ip_addresses(tmp_path: Path) -> None:
    out = tmp_path / "certs"

    assert main(["certs", "init", "--out", str(out), "[::1]:4000=::1,[fd00::2],Node.Example"]) == 0

    certificate = load(out / f"{Member('[::1]:4000', ()).stem}.crt")
    hosts = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert hosts.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("::1"),
        ipaddress.ip_address("fd00::2"),
    ]
    assert hosts.get_values_for_type(x509.DNSName) == ["node.example"]

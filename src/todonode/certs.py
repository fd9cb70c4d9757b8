"""``todonode certs init``: a small certificate authority for one cluster, and what its members and the
terminal client need to speak TLS to each other.

    todonode certs init --out certs node4000=127.0.0.1,localhost node4001=127.0.0.1,localhost

writes into ``certs/`` (made private): ``ca.crt`` and ``ca.key``; for each ``NAME=HOST[,HOST...]``,
``NAME.crt`` and ``NAME.key``, whose subject's common name is NAME and whose subject alternative names
are the hosts; and ``client.crt``/``client.key`` for the terminal client. Every file is created 0600,
and nothing existing is overwritten. When ``ca.crt`` and ``ca.key`` are already there, that CA signs
the new certificates, so a member can be added later.

NAME is how a peer is recognised (``tls.py``): the member's id (``node4000`` on one machine), or any
name when each member has a host of its own, which its certificate then lists. The keys are ECDSA
P-256: small, and quick to handshake with. Made by the ``cryptography`` library.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .privacy import PRIVATE_DIR, PRIVATE_FILE

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

CA_DAYS = 3650
LEAF_DAYS = 1825  # renew before then: an expired certificate stops a member from joining its peers
CLIENT_NAME = "todonode-client"
CLIENT_FILES = (("ca", "ca.crt"), ("cert", "client.crt"), ("key", "client.key"))
_RESERVED = {"ca", "client"}  # file names the command writes itself
_NAME = re.compile(r"[A-Za-z0-9\[][A-Za-z0-9._:\[\]-]{0,62}")  # [...]: an IPv6 host in a host:port id
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")


class CertsError(Exception):
    """A bad argument or a file in the way: one line, exit status 2."""


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    hosts: tuple[str, ...]

    @property
    def stem(self) -> str:
        """The file name: the member's name, with ``:`` (of a host:port id) as ``-``, without brackets."""
        return self.name.replace("[", "").replace("]", "").replace(":", "-")


def add_commands(subparsers: Any) -> None:
    certs = subparsers.add_parser("certs", help="make certificates for TLS").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    init = certs.add_parser(
        "init",
        help="a CA, a certificate per member and one for the terminal client",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    init.add_argument("--out", required=True, metavar="DIR", help="where to write them (made private)")
    init.add_argument(
        "members",
        nargs="+",
        metavar="NAME=HOST[,HOST...]",
        help="a member's name (its id, e.g. node4000) and every host name or address it is reached at",
    )
    init.set_defaults(run=init_command)


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    try:
        args.run(args, out)
    except CertsError as exc:
        print(f"todonode: {exc}", file=sys.stderr)
        return 2
    return 0


def parse_member(text: str) -> Member:
    """``NAME=HOST[,HOST...]`` → Member, or CertsError saying what is wrong with it."""
    name, sep, hosts = text.partition("=")
    if not sep:
        raise CertsError(f"{text!r}: write NAME=HOST[,HOST...], e.g. node4000=127.0.0.1,localhost")
    if not _NAME.fullmatch(name) or name.lower() in _RESERVED:
        raise CertsError(
            f"{text!r}: the name {name!r} must be 1-63 letters, digits, '.', '_', ':', '-' or [] (not "
            f"{' or '.join(sorted(_RESERVED))})"
        )
    listed = tuple(host.strip() for host in hosts.split(","))
    for host in listed:
        if not _is_host(host):
            raise CertsError(f"{text!r}: {host!r} is neither an IP address nor a host name")
    return Member(name, listed)


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return bool(_DNS.fullmatch(host))
    return True


def init_command(args: argparse.Namespace, out: Callable[[str], None]) -> None:
    members = [parse_member(text) for text in args.members]
    names = [m.stem.lower() for m in members]
    if len(set(names)) < len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise CertsError(f"{twice!r} is given twice")
    directory = Path(args.out)
    written = init(directory, members)
    out(f"wrote {', '.join(path.name for path in written)} in {directory} (each readable by you alone)")
    out("In each member's config (relative paths are read from the config file's directory):")
    out("  [tls]")
    for key, name in (("cert_file", "NAME.crt"), ("key_file", "NAME.key"), ("ca_file", "ca.crt")):
        out(f'  {key} = "{directory.absolute() / name}"')
    client = " ".join(f"--{flag} {directory / name}" for flag, name in CLIENT_FILES)
    out(f"The terminal client: todonode tasks list --url https://HOST:PORT {client}")


def init(directory: Path, members: list[Member]) -> list[Path]:
    """Write the CA (unless it is there already), each member's certificate and key and the client's;
    returns the files written. CertsError, before anything is written, if one of them exists."""
    ca_cert, ca_key = directory / "ca.crt", directory / "ca.key"
    reuse = ca_cert.exists() and ca_key.exists()
    leaves = [(m.stem, m) for m in members] + [("client", None)]
    targets = [directory / f"{stem}.{ext}" for stem, _ in leaves for ext in ("crt", "key")]
    if not reuse:
        targets += [ca_cert, ca_key]
    if in_the_way := [path for path in targets if path.exists()]:
        raise CertsError(f"{in_the_way[0]} exists already; remove it, or choose another --out")
    directory.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)

    from cryptography.hazmat.primitives.asymmetric import ec

    if reuse:
        ca, key = _load_ca(ca_cert, ca_key)
        written = []
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        ca = _ca_certificate(key)
        written = [_write_certificate(ca_cert, ca), _write_key(ca_key, key)]
    for stem, member in leaves:
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        certificate = _leaf_certificate(ca, key, leaf_key, member)
        written += [_write_certificate(directory / f"{stem}.crt", certificate)]
        written += [_write_key(directory / f"{stem}.key", leaf_key)]
    return written


def _load_ca(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        ca = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CertsError(f"cannot use the CA in {cert_path.parent}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != ca.public_key():
        raise CertsError(f"{key_path} is not the key of {cert_path}")
    return ca, key


def _ca_certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"todonode CA {os.urandom(4).hex()}")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf_certificate(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePrivateKey,
    member: Member | None,
) -> x509.Certificate:
    """A member's certificate (server and client: it listens, and it opens streams to its peers), or,
    for ``member`` None, the terminal client's (client only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    common_name = CLIENT_NAME if member is None else member.name
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if member is not None:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(host) for host in member.hosts]), critical=False
        )
    builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _general_name(host: str) -> x509.GeneralName:
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return x509.DNSName(host.lower())


def _write_certificate(path: Path, certificate: x509.Certificate) -> Path:
    from cryptography.hazmat.primitives import serialization

    return _write_private(path, certificate.public_bytes(serialization.Encoding.PEM))


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return _write_private(path, pem)


def _write_private(path: Path, data: bytes) -> Path:
    """Create ``path`` with mode 0600 from the start (never widened, then narrowed), holding ``data``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    return path

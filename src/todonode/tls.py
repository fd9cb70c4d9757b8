"""TLS for a node: the contexts its listeners and its outgoing connections use, and whom a certificate
names. Built on the standard library's ``ssl``; the certificates come from ``[tls]`` (config.py), and
``todonode certs init`` (certs.py) makes a set.

- The client listener serves the node's certificate. With ``tls.ca_file`` it also asks for a client
  certificate, without requiring one (browsers have none): a certificate signed by that CA is a cluster
  credential (api/access.py) and, on the peer routes, the peer's identity. One from another CA fails
  the handshake.
- The peer listener (``node.peer_port``) requires a certificate signed by the CA.
- Outgoing connections check the other end's certificate against ``tls.ca_file`` (the system's CAs
  without it) and its host name. Only the connections that carry this node's own messages to its peers
  present this node's certificate: a client's request relayed to the leader must not gain the
  relaying node's authority on the way.

A certificate names a member when its subject's common name is the member's id (``node4000``), or,
for a member that is alone on its host, when that host is one of its subject alternative names: on
one machine every member shares the host, and only the common name tells them apart.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .config import TlsSection

# The shape the ssl module decodes a verified certificate into (SSLSocket.getpeercert()).
PeerCertificate = Mapping[str, Any]


def server_context(tls: TlsSection, *, require_certificate: bool) -> ssl.SSLContext:
    """For a listener; with ``tls.ca_file``, client certificates are asked for, and required if
    ``require_certificate``."""
    assert tls.cert_file is not None and tls.key_file is not None, "TLS is on"
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.ca_file is not None:
        context.load_verify_locations(tls.ca_file)
        context.verify_mode = ssl.CERT_REQUIRED if require_certificate else ssl.CERT_OPTIONAL
    return context


def client_context(tls: TlsSection, *, present_certificate: bool) -> ssl.SSLContext | None:
    """For connections to members: None without TLS. ``present_certificate`` only for this node's own
    peer traffic (see the module's docstring)."""
    if not tls.enabled:
        return None
    context = ssl.create_default_context(cafile=tls.ca_file)  # with a CA file, that CA alone
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if present_certificate:
        assert tls.cert_file is not None and tls.key_file is not None
        context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


@dataclass(frozen=True, slots=True)
class CertificateNames:
    common_name: str | None
    hosts: frozenset[str]  # the subject alternative names: DNS names (lower case) and IP addresses

    @classmethod
    def of(cls, certificate: PeerCertificate) -> CertificateNames:
        common_name = next(
            (value for rdn in certificate.get("subject", ()) for key, value in rdn if key == "commonName"),
            None,
        )
        hosts = frozenset(
            _host(value)
            for kind, value in certificate.get("subjectAltName", ())
            if kind in ("DNS", "IP Address")
        )
        return cls(common_name, hosts)


def served_hosts(tls: TlsSection) -> frozenset[str]:
    """The hosts this node's own certificate names (its subject alternative names, wildcards left
    out): a client that checks the certificate can only have reached the node by one of them."""
    if tls.cert_file is None:
        return frozenset()
    # Imported here: the library costs a node about 8 MB of memory, which a node without TLS never needs.
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(tls.cert_file.read_bytes())  # the leaf comes first
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return frozenset()
    hosts = [*names.get_values_for_type(x509.DNSName), *map(str, names.get_values_for_type(x509.IPAddress))]
    return frozenset(_host(host) for host in hosts if "*" not in host)


def member_named(certificate: PeerCertificate | None, members: Mapping[str, str]) -> str | None:
    """The member (id, from ``members``: id → URL) that a verified ``certificate`` names, or None."""
    if not certificate:
        return None
    names = CertificateNames.of(certificate)
    if names.common_name in members:
        return names.common_name
    hosts = [_host(urlsplit(url).hostname or "") for url in members.values()]
    for member, host in zip(members, hosts, strict=True):
        if host in names.hosts and hosts.count(host) == 1:
            return member
    return None


def _host(name: str) -> str:
    """A host as a certificate or a URL may write it, in one form: IP addresses compressed, names in
    lower case without a trailing dot."""
    try:
        return str(ipaddress.ip_address(name.strip().strip("[]")))
    except ValueError:
        return name.strip().lower().rstrip(".")

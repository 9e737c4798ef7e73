"""A throw-away PKI made at test time: a CA, server and client certificates, and bad ones.

    pki = Pki.create(tmp_path)
    pki.server.cert, pki.server.key      # PEM files, SAN 127.0.0.1 and localhost
    pki.issue("other-server", server=True, ca=pki.other_ca)

Every certificate gets a fresh random serial, so a test can tell which one a server presented.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path
    serial: int


@dataclass(frozen=True)
class Authority:
    cert: Path
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_authority(directory: Path, name: str) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(_now() - _DAY).not_valid_after(_now() + 30 * _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256()))
    path = directory / f"{name}.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Authority(path, certificate, key)


def issue(directory: Path, name: str, ca: Authority, *, server: bool,
          expired: bool = False) -> Issued:
    """A leaf certificate signed by `ca`; server ones carry SAN 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    serial = x509.random_serial_number()
    start, end = (_now() - 30 * _DAY, _now() - _DAY) if expired else (_now() - _DAY,
                                                                       _now() + 30 * _DAY)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.certificate.subject).public_key(key.public_key()).serial_number(serial)
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca.private_key.public_key()), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
    certificate = builder.sign(ca.private_key, hashes.SHA256())
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_key_pem(key))
    return Issued(cert_path, key_path, serial)


@dataclass(frozen=True)
class Pki:
    directory: Path
    ca: Authority
    other_ca: Authority
    server: Issued
    client: Issued
    expired_server: Issued
    expired_client: Issued
    stranger_server: Issued
    """A server certificate from another CA."""
    stranger_client: Issued
    """A client certificate from another CA."""

    @classmethod
    def create(cls, directory: Path) -> Pki:
        directory.mkdir(parents=True, exist_ok=True)
        ca, other = make_authority(directory, "ebb-test-ca"), make_authority(directory, "other-ca")
        return cls(directory, ca, other,
                   server=issue(directory, "server", ca, server=True),
                   client=issue(directory, "client", ca, server=False),
                   expired_server=issue(directory, "expired-server", ca, server=True,
                                        expired=True),
                   expired_client=issue(directory, "expired-client", ca, server=False,
                                        expired=True),
                   stranger_server=issue(directory, "stranger-server", other, server=True),
                   stranger_client=issue(directory, "stranger-client", other, server=False))

    def issue(self, name: str, *, server: bool, ca: Authority | None = None) -> Issued:
        return issue(self.directory, name, ca or self.ca, server=server)


def serial_of(pem: bytes) -> int:
    return x509.load_pem_x509_certificate(pem).serial_number

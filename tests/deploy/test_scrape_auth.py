"""The local Prometheus' way into a TLS server (its own certificate, pinned, by a name it holds)
and its key file (private from the moment it exists)."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ebb.deploy.scrape_auth import pinned_tls, write_token
from tests.security._pki import Pki


def _bare_certificate(path: Path) -> Path:
    """Self-signed, without subjectAltName."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bare")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(1)
                   .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def test_the_scrape_pins_the_servers_own_certificate(tmp_path: Path) -> None:
    pki = Pki.create(tmp_path)
    by_address = pinned_tls(pki.server.cert, "127.0.0.1")
    assert by_address.block() == {"ca_file": str(pki.server.cert.resolve())}
    by_name = pinned_tls(pki.server.cert, "10.0.0.7")  # not in the certificate: use its name
    assert by_name.block()["server_name"] == "localhost"
    assert pinned_tls(_bare_certificate(tmp_path / "bare.pem"), "127.0.0.1").block() == {
        "insecure_skip_verify": True}


def test_the_token_file_is_private(tmp_path: Path) -> None:
    path = write_token(tmp_path, "ebb_x.secret")
    assert path.read_text() == "ebb_x.secret"
    assert path.stat().st_mode & 0o777 == 0o600

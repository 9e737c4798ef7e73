"""TLS for both ports from one set of PEM files, re-read when the files change.

The only module of the server that touches ``ssl``: it builds the REST port's ``SSLContext``
and the gRPC port's credentials from the same files, and a watcher polls their stat every
second. Files are read once into memory per (re)load, so REST and gRPC always get the same bytes
even while cert-manager is rewriting them; a change is loaded only after it has looked the same
for two polls, so a half-written file is not mistaken for a broken one::

    tls = load_server_tls(cert, key, client_ca)       # TlsError (one line) on bad files
    HttpServer(app, tls.context); server.add_secure_port(address, tls.grpc_credentials())
    background.spawn(tls.watch(background.stopping), "tls")

A reload loads the new chain into the *same* ``SSLContext`` (new handshakes get it, open
connections keep theirs) and hands gRPC a new configuration on its next handshake. A bad new file
is logged once and the previous certificate kept. Client CAs are additive: a CA that appears in
``--tls-client-ca-file`` is trusted from the next handshake; one removed stays trusted until a
restart (an OpenSSL context cannot forget a CA).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from ssl import SSLContext as SSLContext  # re-exported: the type the HTTP server is given

import grpc

log = logging.getLogger("ebb.security.tls")

POLL_INTERVAL_S = 1.0

Signature = tuple[tuple[int, int, int], ...]
"""(inode, size, mtime_ns) per watched file: a change in any of them is a change of content."""


class TlsError(ValueError):
    """A TLS file is missing, unreadable or does not fit; the message is one line for a user."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    client_ca: Path | None
    """Set for mutual TLS: clients must present a certificate this CA bundle signed."""

    @property
    def paths(self) -> tuple[Path, ...]:
        return (self.cert, self.key) + ((self.client_ca,) if self.client_ca else ())


@dataclass(frozen=True)
class Material:
    """The bytes of one consistent read of the files."""

    cert: bytes
    key: bytes
    client_ca: bytes | None


def should_load(current: Signature, previous_poll: Signature, loaded: Signature,
                failed: Signature | None) -> bool:
    """Load files that changed since the last load, look settled, and have not already failed."""
    return current == previous_poll and current != loaded and current != failed


def signature(files: TlsFiles) -> Signature:
    """The watched files' stat (following links, as Kubernetes swaps a ``..data`` link)."""
    stats = []
    for path in files.paths:
        try:
            status = os.stat(path)
        except OSError:
            stats.append((0, -1, 0))
            continue
        stats.append((status.st_ino, status.st_size, status.st_mtime_ns))
    return tuple(stats)


def read_material(files: TlsFiles) -> Material:
    def read(path: Path, flag: str, marker: bytes, what: str) -> bytes:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise TlsError(f"cannot read {flag} {path}: {error.strerror}") from None
        if marker not in data:
            raise TlsError(f"{flag} {path} holds no PEM {what}")
        return data

    cert = read(files.cert, "--tls-cert-file", b"-----BEGIN CERTIFICATE-----", "certificate")
    key = read(files.key, "--tls-key-file", b"PRIVATE KEY-----", "private key")
    client_ca = None
    if files.client_ca is not None:
        client_ca = read(files.client_ca, "--tls-client-ca-file",
                         b"-----BEGIN CERTIFICATE-----", "CA certificate")
    return Material(cert, key, client_ca)


def _reason(error: ssl.SSLError) -> str:
    """OpenSSL's reason code in words; its bare "PEM lib" means malformed PEM."""
    if not error.reason:
        return "malformed or truncated PEM data"
    return error.reason.replace("_", " ").lower()


def load_chain(context: ssl.SSLContext, files: TlsFiles, material: Material) -> None:
    """Load `material`'s certificate and key into `context`, or raise TlsError.

    ``load_cert_chain`` reads only paths, so the bytes go through a private temporary directory
    and are deleted at once: what is loaded is exactly what gRPC gets.
    """

    def refuse_password() -> str:
        raise TlsError(f"--tls-key-file {files.key} is encrypted; give an unencrypted key "
                       "(protect it with file permissions)")

    with tempfile.TemporaryDirectory(prefix="ebb-tls-") as directory:
        cert, key = Path(directory, "cert.pem"), Path(directory, "key.pem")
        cert.write_bytes(material.cert)
        key.touch(mode=0o600)
        key.write_bytes(material.key)
        try:
            context.load_cert_chain(cert, key, password=refuse_password)
        except ssl.SSLError as error:
            if error.reason == "KEY_VALUES_MISMATCH":
                raise TlsError(f"--tls-key-file {files.key} does not match the certificate in "
                               f"--tls-cert-file {files.cert}") from None
            raise TlsError(f"cannot load --tls-cert-file {files.cert} with --tls-key-file "
                           f"{files.key}: {_reason(error)}") from None


def _trust_clients(context: ssl.SSLContext, files: TlsFiles, client_ca: bytes) -> None:
    try:
        context.load_verify_locations(cadata=client_ca.decode("ascii", "replace"))
    except ssl.SSLError as error:
        raise TlsError(f"--tls-client-ca-file {files.client_ca} holds no usable CA "
                       f"certificate: {_reason(error)}") from None


def server_context(files: TlsFiles, material: Material) -> ssl.SSLContext:
    """A TLS 1.2+ server context; with a client CA it requires and verifies client certs."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    load_chain(context, files, material)
    if material.client_ca is not None:
        _trust_clients(context, files, material.client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _grpc_configuration(material: Material,
                        client_cas: bytes | None) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration([(material.key, material.cert)],
                                                     root_certificates=client_cas)


class ServerTls:
    """The live TLS state of one server: the REST context, the gRPC credentials, the watcher."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        self._loaded = signature(files)
        material = read_material(files)
        self.context = server_context(files, material)
        self._client_cas: list[bytes] = [material.client_ca] if material.client_ca else []
        self._initial = _grpc_configuration(material, self._client_ca_bundle())
        self._pending: grpc.ServerCertificateConfiguration | None = None
        self._failed: Signature | None = None
        self.reloads = 0

    def _client_ca_bundle(self) -> bytes | None:
        return b"\n".join(self._client_cas) if self._client_cas else None

    def grpc_credentials(self) -> grpc.ServerCredentials:
        """Credentials whose certificate follows the files (asked at each new handshake)."""
        return grpc.dynamic_ssl_server_credentials(
            self._initial, self._next_grpc_configuration,
            require_client_authentication=self.files.client_ca is not None)

    def _next_grpc_configuration(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC on its own threads: hand over a new configuration once, else None."""
        pending, self._pending = self._pending, None
        return pending

    def reload(self) -> None:
        """Re-read the files into the live context and the gRPC credentials, or raise TlsError."""
        material = read_material(self.files)
        load_chain(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), self.files, material)
        if material.client_ca is not None and material.client_ca not in self._client_cas:
            _trust_clients(self.context, self.files, material.client_ca)
            self._client_cas.append(material.client_ca)
        load_chain(self.context, self.files, material)
        self._pending = _grpc_configuration(material, self._client_ca_bundle())
        self.reloads += 1

    def poll(self, previous_poll: Signature) -> Signature:
        """One watcher step: reload when `should_load` says so; returns this poll's signature."""
        current = signature(self.files)
        if not should_load(current, previous_poll, self._loaded, self._failed):
            return current
        try:
            self.reload()
        except TlsError as error:
            self._failed = current
            log.error("TLS files changed but cannot be loaded (%s); keeping the previous "
                      "certificate", error)
            return current
        self._loaded, self._failed = current, None
        log.info("TLS certificate reloaded from %s", self.files.cert)
        return current

    async def watch(self, stopping: asyncio.Event, interval_s: float = POLL_INTERVAL_S) -> None:
        """Poll the files until `stopping` is set. Runs on the serving loop, so a reload never
        races a handshake that is reading the context."""
        previous = self._loaded
        while not stopping.is_set():
            previous = self.poll(previous)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval_s)


def certificate_names(path: Path) -> tuple[str, ...]:
    """The DNS names, then the IP addresses, that the first certificate in a PEM file is valid
    for (its subjectAltName): what a client verifying that server may call it."""
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return (*names.get_values_for_type(x509.DNSName),
            *(str(address) for address in names.get_values_for_type(x509.IPAddress)))


def load_server_tls(cert: Path | None, key: Path | None,
                    client_ca: Path | None) -> ServerTls | None:
    """The server's TLS from its settings (validated to come as a pair); None: plain text."""
    if cert is None or key is None:
        return None
    return ServerTls(TlsFiles(cert, key, client_ca))

"""Certificate rotation without a restart, and start-up errors, against real ``ebb serve``.

cert-manager rewrites the files in place; the server must present the new certificate on the
next new connection, keep open connections working, and keep the old certificate when a new
file is broken (saying so once in its log).
"""

from __future__ import annotations

import http.client
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import start_server
from tests.security._pki import Issued, Pki, serial_of
from tests.security._tls_clients import client_context, grpc_infer, grpc_refusal

DOUBLED = [2.0 * x for x in range(16)]


def _install(issued: Issued, cert: Path, key: Path) -> None:
    """Rewrite the served files in place, as cert-manager does."""
    shutil.copyfile(issued.key, key)
    shutil.copyfile(issued.cert, cert)


def _served_serial(port: int) -> int:
    return serial_of(ssl.get_server_certificate(("127.0.0.1", port), timeout=5).encode())


def _wait_for_serial(port: int, serial: int, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while _served_serial(port) != serial:
        assert time.monotonic() < deadline, "the new certificate was not served in time"
        time.sleep(0.2)


def _get(connection: http.client.HTTPSConnection) -> int:
    connection.request("GET", "/v2/health/ready")
    response = connection.getresponse()
    response.read()
    return response.status


def test_rotation_serves_the_new_certificate_and_keeps_open_connections(
        tmp_path: Path) -> None:
    pki = Pki.create(tmp_path / "pki")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    _install(pki.server, cert, key)
    server = start_server(tmp_path, "builtin:double", "--tls-cert-file", str(cert),
                          "--tls-key-file", str(key))
    try:
        assert _served_serial(server.http_port) == pki.server.serial
        kept = http.client.HTTPSConnection("127.0.0.1", server.http_port,
                                           context=client_context(pki.ca.cert), timeout=10)
        assert _get(kept) == 200
        socket_before = kept.sock
        # the next certificate comes from another CA: only the new one verifies against it
        _install(pki.stranger_server, cert, key)
        _wait_for_serial(server.http_port, pki.stranger_server.serial)
        assert grpc_infer(server.grpc_target, pki.other_ca.cert) == DOUBLED
        assert grpc_refusal(server.grpc_target, pki.ca.cert).startswith("UNAVAILABLE")
        assert _get(kept) == 200 and kept.sock is socket_before
        assert serial_of(ssl.DER_cert_to_PEM_cert(kept.sock.getpeercert(True)).encode()) \
            == pki.server.serial
        kept.close()

        cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
        time.sleep(3.5)
        assert _served_serial(server.http_port) == pki.stranger_server.serial
        assert grpc_infer(server.grpc_target, pki.other_ca.cert) == DOUBLED
        assert server.log().count("keeping the previous certificate") == 1

        renewed = pki.issue("renewed", server=True)
        _install(renewed, cert, key)
        _wait_for_serial(server.http_port, renewed.serial)
        assert grpc_infer(server.grpc_target, pki.ca.cert) == DOUBLED
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.log()


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ebb", "serve", "builtin:double",
                           "--http-port", "0", "--grpc-port", "0", *args],
                          capture_output=True, text=True, timeout=60)


def test_start_up_errors_are_one_line(tmp_path: Path) -> None:
    pki = Pki.create(tmp_path)
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(["openssl", "pkey", "-in", str(pki.server.key), "-aes256", "-passout",
                    "pass:secret", "-out", str(encrypted)], check=True)
    cases = [
        ((str(pki.server.cert), None, None), 2, "--tls-cert-file and --tls-key-file go together"),
        ((None, str(pki.server.key), None), 2, "--tls-cert-file and --tls-key-file go together"),
        ((None, None, str(pki.ca.cert)), 2, "--tls-client-ca-file needs --tls-cert-file"),
        ((str(pki.server.cert), str(pki.client.key), None), 1, "does not match the certificate"),
        ((str(tmp_path / "missing.crt"), str(pki.server.key), None), 1,
         "cannot read --tls-cert-file"),
        ((str(pki.server.key), str(pki.server.key), None), 1, "holds no PEM certificate"),
        ((str(pki.server.cert), str(pki.server.cert), None), 1, "holds no PEM private key"),
        ((str(pki.server.cert), str(encrypted), None), 1, "is encrypted"),
        ((str(pki.server.cert), str(pki.server.key), str(pki.server.key)), 1,
         "holds no PEM CA certificate"),
    ]
    for (cert, key, ca), status, message in cases:
        args = [arg for flag, value in (("--tls-cert-file", cert), ("--tls-key-file", key),
                                        ("--tls-client-ca-file", ca)) if value
                for arg in (flag, value)]
        process = _serve(*args)
        assert process.returncode == status, (args, process.stderr)
        lines = [line for line in process.stderr.splitlines() if line.startswith("ebb:")]
        assert len(lines) == 1 and message in lines[0], (args, process.stderr)
        assert "Traceback" not in process.stderr

"""TLS and mutual TLS against real ``ebb serve`` processes, with certificates made at test time.

Every client here is an independent one (httpx, grpcio, curl-like raw sockets, tritonclient in
its own process): the server must be reachable over TLS on both ports, and refuse the wrong
certificate, an expired one, and a client without one under mutual TLS, each with a message
that says why.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.security._pki import Pki
from tests.security._tls_clients import (
    client_context,
    grpc_infer,
    grpc_refusal,
    rest_infer,
    rest_refusal,
)

HERE = Path(__file__).parent
DOUBLED = [2.0 * x for x in range(16)]
VERIFY_FAILED = "CERTIFICATE_VERIFY_FAILED"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


def _tls_server(tmp_path: Path, pki: Pki, *extra: str) -> RunningServer:
    return start_server(tmp_path, "builtin:double", "--tls-cert-file", str(pki.server.cert),
                        "--tls-key-file", str(pki.server.key), *extra)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[RunningServer]:
    server = _tls_server(tmp_path_factory.mktemp("tls"), pki)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mtls_server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[RunningServer]:
    server = _tls_server(tmp_path_factory.mktemp("mtls"), pki,
                         "--tls-client-ca-file", str(pki.ca.cert))
    yield server
    server.stop()


def test_banner_shows_https(tls_server: RunningServer) -> None:
    assert tls_server.scheme == "https"
    assert f"gRPC     127.0.0.1:{tls_server.grpc_port} (TLS)" in tls_server.log()


def test_rest_and_grpc_answer_over_tls(tls_server: RunningServer, pki: Pki) -> None:
    assert rest_infer(tls_server.url, pki.ca.cert) == DOUBLED
    assert grpc_infer(tls_server.grpc_target, pki.ca.cert) == DOUBLED
    with httpx.Client(verify=client_context(pki.ca.cert)) as http:
        assert http.get(f"{tls_server.url}/metrics").status_code == 200


def test_plain_text_is_not_served(tls_server: RunningServer) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{tls_server.http_port}/v2/health/ready", timeout=5)


def test_a_client_trusting_another_ca_refuses_the_server(tls_server: RunningServer,
                                                         pki: Pki) -> None:
    assert VERIFY_FAILED in rest_refusal(tls_server.url, pki.other_ca.cert)
    message = grpc_refusal(tls_server.grpc_target, pki.other_ca.cert)
    assert message.startswith("UNAVAILABLE") and "handshake" in message.lower(), message


def test_mtls_accepts_a_client_certificate_from_its_ca(mtls_server: RunningServer,
                                                       pki: Pki) -> None:
    assert rest_infer(mtls_server.url, pki.ca.cert, pki.client) == DOUBLED
    assert grpc_infer(mtls_server.grpc_target, pki.ca.cert, pki.client) == DOUBLED


@pytest.mark.parametrize("who", ["no certificate", "expired", "another CA"])
def test_mtls_refuses_clients_on_both_protocols(mtls_server: RunningServer, pki: Pki,
                                                who: str) -> None:
    client = {"no certificate": None, "expired": pki.expired_client,
              "another CA": pki.stranger_client}[who]
    rest = rest_refusal(mtls_server.url, pki.ca.cert, client)
    # Under TLS 1.3 the server checks the client's certificate after the client has finished
    # its side of the handshake, so both clients learn of the refusal as a closed connection
    # (asyncio and uvloop also drop OpenSSL's alert: python/cpython#98078).
    assert "Server disconnected without sending a response" in rest, rest
    message = grpc_refusal(mtls_server.grpc_target, pki.ca.cert, client)
    assert message.startswith("UNAVAILABLE"), message
    assert "Socket closed" in message or "handshake" in message.lower(), message
    assert "Traceback" not in mtls_server.log()


def test_an_expired_server_certificate_is_refused_by_clients(tmp_path: Path, pki: Pki) -> None:
    server = start_server(tmp_path, "builtin:double", "--tls-cert-file",
                          str(pki.expired_server.cert), "--tls-key-file",
                          str(pki.expired_server.key))
    try:
        rest = rest_refusal(server.url, pki.ca.cert)
        assert VERIFY_FAILED in rest and "expired" in rest, rest
        message = grpc_refusal(server.grpc_target, pki.ca.cert)
        assert message.startswith("UNAVAILABLE") and "handshake" in message.lower(), message
    finally:
        server.stop()


def test_a_server_certificate_from_another_ca_is_refused(tmp_path: Path, pki: Pki) -> None:
    server = start_server(tmp_path, "builtin:double", "--tls-cert-file",
                          str(pki.stranger_server.cert), "--tls-key-file",
                          str(pki.stranger_server.key))
    try:
        assert VERIFY_FAILED in rest_refusal(server.url, pki.ca.cert)
        assert grpc_refusal(server.grpc_target, pki.ca.cert).startswith("UNAVAILABLE")
    finally:
        server.stop()


def _triton(server: RunningServer, pki: Pki, mutual: bool) -> dict[str, dict[str, object]]:
    config: dict[str, str] = {"http": f"127.0.0.1:{server.http_port}",
                              "grpc": server.grpc_target, "ca": str(pki.ca.cert)}
    if mutual:
        config |= {"cert": str(pki.client.cert), "key": str(pki.client.key)}
    process = subprocess.run([sys.executable, str(HERE / "_triton_tls_client.py"),
                              json.dumps(config)], capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr
    results: dict[str, dict[str, object]] = json.loads(process.stdout)
    return results


def test_tritonclient_over_tls(tls_server: RunningServer, pki: Pki) -> None:
    results = _triton(tls_server, pki, mutual=False)
    assert results["http"] == {"value": DOUBLED}
    assert results["grpc"] == {"value": DOUBLED}


def test_tritonclient_over_mtls(mtls_server: RunningServer, pki: Pki) -> None:
    results = _triton(mtls_server, pki, mutual=True)
    assert results["http"] == {"value": DOUBLED}
    assert results["grpc"] == {"value": DOUBLED}
    assert "error" in results["http_without_cert"], results
    assert "error" in results["grpc_without_cert"], results
    assert "UNAVAILABLE" in str(results["grpc_without_cert"]["error"])


def _ebb_load(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ebb", "load", "--model", "double", "--rate",
                           "50", "--duration", "2", "--no-progress", "--json", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_ebb_load_over_mtls_completes_without_errors(mtls_server: RunningServer, pki: Pki,
                                                     protocol: str) -> None:
    target = ["--grpc", mtls_server.grpc_target] if protocol == "grpc" else []
    process = _ebb_load(mtls_server.url, *target, "--ca-file", str(pki.ca.cert),
                        "--cert-file", str(pki.client.cert), "--key-file", str(pki.client.key))
    assert process.returncode == 0, process.stderr
    summary = json.loads(process.stdout)
    assert summary["answered"] == summary["sent"] > 50, summary
    assert summary["errors"] == 0, summary
    assert "no /metrics scrape succeeded" not in process.stderr


def test_ebb_load_without_the_ca_fails_in_one_line(tls_server: RunningServer) -> None:
    process = _ebb_load(tls_server.url)
    assert process.returncode == 1, process.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in process.stderr
    assert "Traceback" not in process.stderr

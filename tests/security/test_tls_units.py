"""The TLS module in-process: files in, a context and gRPC configurations out; the reload rule."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ebb.security.tls import ServerTls, TlsError, TlsFiles, load_server_tls, should_load
from tests.security._pki import Pki


def test_should_load_waits_for_settled_changes_and_skips_known_failures() -> None:
    old, new, newer = ((1, 1, 1),), ((1, 1, 2),), ((1, 1, 3),)
    assert not should_load(old, old, old, None)             # nothing changed
    assert not should_load(new, old, old, None)             # changed: wait one poll
    assert should_load(new, new, old, None)                 # settled: load
    assert not should_load(new, new, old, new)              # already failed: not again
    assert should_load(newer, newer, old, new)              # changed again: try again


def test_no_files_means_plain_text() -> None:
    assert load_server_tls(None, None, None) is None


def test_reload_swaps_the_chain_and_a_bad_file_keeps_the_old_one(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pki = Pki.create(tmp_path / "pki")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    shutil.copyfile(pki.server.cert, cert)
    shutil.copyfile(pki.server.key, key)
    tls = ServerTls(TlsFiles(cert, key, pki.ca.cert))
    assert tls._next_grpc_configuration() is None
    seen = tls.poll(tls._loaded)
    shutil.copyfile(pki.client.key, key)                   # a key that does not match
    seen = tls.poll(seen)                                   # first sight: wait
    seen = tls.poll(seen)                                   # settled: fails, logged
    seen = tls.poll(seen)                                   # same files: not retried
    assert tls.reloads == 0
    assert caplog.text.count("keeping the previous certificate") == 1
    assert "does not match" in caplog.text
    assert tls._next_grpc_configuration() is None
    renewed = pki.issue("renewed", server=True)
    shutil.copyfile(renewed.cert, cert)
    shutil.copyfile(renewed.key, key)
    seen = tls.poll(tls.poll(seen))
    assert tls.reloads == 1
    assert tls._next_grpc_configuration() is not None
    assert tls._next_grpc_configuration() is None           # handed over once


def test_watch_returns_when_stopping(tmp_path: Path) -> None:
    pki = Pki.create(tmp_path)
    tls = ServerTls(TlsFiles(pki.server.cert, pki.server.key, None))

    async def run() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(tls.watch(stopping, interval_s=0.01))
        await asyncio.sleep(0.05)
        stopping.set()
        await asyncio.wait_for(task, 1)

    asyncio.run(run())


def test_a_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    pki = Pki.create(tmp_path)
    with pytest.raises(TlsError, match="does not match"):
        ServerTls(TlsFiles(pki.server.cert, pki.stranger_server.key, None))


def _prometheus_config(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ebb", "prometheus-config", *args],
                          capture_output=True, text=True, timeout=30)


def test_prometheus_config_tls_block_passes_promtool(tmp_path: Path) -> None:
    pki = Pki.create(tmp_path)
    process = _prometheus_config("--scheme", "https", "--ca-file", str(pki.ca.cert),
                                 "--cert-file", str(pki.client.cert),
                                 "--key-file", str(pki.client.key))
    assert process.returncode == 0, process.stderr
    job = yaml.safe_load(process.stdout)["scrape_configs"][0]
    assert job["scheme"] == "https"
    assert job["tls_config"] == {"ca_file": str(pki.ca.cert), "cert_file": str(pki.client.cert),
                                 "key_file": str(pki.client.key)}
    config = tmp_path / "prometheus.yml"
    config.write_text(process.stdout)
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is missing: apt-get install prometheus"
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--ca-file", "ca.pem"], "--ca-file needs --scheme https"),
    (["--scheme", "https", "--cert-file", "c.pem"], "--cert-file and --key-file go together"),
])
def test_prometheus_config_tls_usage_errors(args: list[str], message: str) -> None:
    process = _prometheus_config(*args)
    assert process.returncode == 2
    assert process.stderr.strip() == f"ebb: {message}"

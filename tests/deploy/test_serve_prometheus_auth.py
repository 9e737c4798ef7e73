"""``ebb serve --prometheus`` against a server with API keys, with and without TLS: Debian's
real Prometheus must scrape it (target up, Ebb's series stored) with the in-memory observe key,
verifying the server's certificate; the secret stays out of the log and its file goes away."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.security._pki import Pki

pytestmark = [pytest.mark.skipif(shutil.which("prometheus") is None,
                                 reason="Debian's prometheus is missing: `make test` installs it"),
              pytest.mark.timeout(240)]


def _prometheus_url(server: RunningServer, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.search(r"Prometheus (http://127\.0\.0\.1:\d+)", server.log())
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no Prometheus in the banner:\n{server.log()}")


def _target_up(prometheus: str, timeout_s: float = 60) -> dict[str, Any]:
    """The one scrape target, once it was scraped successfully."""
    deadline = time.monotonic() + timeout_s
    target: dict[str, Any] = {}
    while time.monotonic() < deadline:
        targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]
        target = targets["activeTargets"][0] if targets["activeTargets"] else {}
        if target.get("health") == "up":
            return target
        time.sleep(0.5)
    raise AssertionError(f"the target never came up: {target}")


@pytest.mark.parametrize("tls", [False, True], ids=["keys", "keys+tls"])
def test_the_local_prometheus_scrapes_a_server_with_keys(tmp_path: Path, tls: bool) -> None:
    keys_file = tmp_path / "keys.toml"
    subprocess.run([sys.executable, "-m", "ebb.cli", "keys", "create", "--file", str(keys_file),
                    "--id", "ci", "--role", "infer"], check=True, capture_output=True,
                   timeout=60)
    flags = ["--auth-keys-file", str(keys_file), "--prometheus"]
    if tls:
        pki = Pki.create(tmp_path / "pki")
        flags += ["--tls-cert-file", str(pki.server.cert), "--tls-key-file",
                  str(pki.server.key)]
    server = start_server(tmp_path, "builtin:double", *flags)
    try:
        prometheus = _prometheus_url(server)
        target = _target_up(prometheus)
        assert target["scrapeUrl"].startswith("https://" if tls else "http://")
        answer = httpx.post(f"{prometheus}/api/v1/query", data={"query": "ebb_queue_depth"},
                            timeout=10).json()
        assert answer["data"]["result"], answer
        config = httpx.get(f"{prometheus}/api/v1/status/config", timeout=10).json()["data"]
        token = Path(re.search(r"credentials_file: (\S+)", config["yaml"]).group(1))
        assert token.stat().st_mode & 0o777 == 0o600
        if tls:  # verified against the server's own certificate, not skipped
            assert "insecure_skip_verify: false" in config["yaml"]
            assert f"ca_file: {pki.server.cert.resolve()}" in config["yaml"]
        secret = token.read_text()
        assert secret.startswith("ebb_ebb-serve-prometheus.")
    finally:
        assert server.stop() == 0
    assert not token.exists() and not token.parent.exists()
    assert secret not in server.log() and secret.split(".")[1] not in server.log()
    assert secret not in keys_file.read_text()

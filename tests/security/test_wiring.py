"""Settings to security: flags, the exposure warning, and a Prometheus config with a token."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ebb.config import ConfigError, ServeSettings, load_settings
from ebb.core.clock import FakeClock
from ebb.security.keys import KeyFileError
from ebb.security.wiring import build_security, exposure_warning
from tests.security._gate import ListRejections


def _settings(**values: object) -> ServeSettings:
    return ServeSettings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("host", "keys", "tls", "expected"), [
    ("127.0.0.1", False, False, None),
    ("::1", False, False, None),
    ("localhost", False, False, None),
    ("0.0.0.0", False, False, "with neither TLS nor API keys"),
    ("10.1.2.3", True, False, "keys cross the network in clear text"),
    ("0.0.0.0", False, True, None),
])
def test_the_exposure_warning(host: str, keys: bool, tls: bool, expected: str | None) -> None:
    values: dict[str, object] = {"host": host}
    if keys:
        values["auth_keys_file"] = Path("k.toml")
    if tls:
        values.update(tls_cert_file=Path("c.pem"), tls_key_file=Path("k.pem"))
    warning = exposure_warning(_settings(**values))
    assert warning is None if expected is None else expected in str(warning)
    if warning:
        assert "\n" not in warning


def test_no_keys_and_no_limit_cost_nothing() -> None:
    security = build_security(_settings(), ListRejections(), FakeClock())
    assert security.middleware == () and security.interceptors == ()
    limited = build_security(_settings(rate_limit=5.0), ListRejections(), FakeClock())
    assert len(limited.middleware) == 1 and len(limited.interceptors) == 1


def test_a_bad_keys_file_stops_start_up_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read keys file"):
        build_security(_settings(auth_keys_file=tmp_path / "none.toml"), ListRejections(),
                       FakeClock())


def test_flags_and_their_checks() -> None:
    settings = load_settings({"auth_keys_file": "k.yaml", "rate_limit": 2.5,
                              "rate_limit_burst": 10})
    assert settings.auth_keys_file == Path("k.yaml") and settings.rate_limit_burst == 10
    with pytest.raises(ConfigError, match="--rate-limit-burst needs --rate-limit"):
        load_settings({"rate_limit_burst": 3})
    with pytest.raises(ConfigError, match="--rate-limit"):
        load_settings({"rate_limit": 0})


def test_prometheus_config_with_a_bearer_token_passes_promtool(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("ebb_prom.secret\n")
    done = subprocess.run([sys.executable, "-m", "ebb.cli", "prometheus-config", "--target",
                           "127.0.0.1:8080", "--bearer-token-file", str(token)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    job = yaml.safe_load(done.stdout)["scrape_configs"][0]
    assert job["authorization"] == {"type": "Bearer", "credentials_file": str(token)}
    assert "ebb_prom.secret" not in done.stdout
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is missing: `make test` installs it")
    config = tmp_path / "prometheus.yml"
    config.write_text(done.stdout)
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr

"""The controller scrapes pods that speak TLS and want an API key (issue 11): a real ``ebb serve``
with ``--tls-cert-file`` and ``--auth-keys-file``, certificates made at test time by a
throw-away CA (tests/security/_pki.py), keys made by ``ebb keys create``. Each wrong setting
(another CA, a name the certificate does not carry, no key, a key without the observe role,
plain http) leaves the pod unreported instead of read; a rotated token file is picked up."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ebb.kubernetes.client import endpoints_of
from ebb.kubernetes.controller.api import Endpoint
from ebb.kubernetes.controller.command import add_arguments, run, settings_from
from ebb.kubernetes.controller.scrape import PodScraper
from ebb.kubernetes.controller.settings import ScrapeTls
from tests.conftest import RunningServer, start_server
from tests.security._pki import Pki


def _create_key(keys: Path, key_id: str, role: str) -> str:
    done = subprocess.run([sys.executable, "-m", "ebb.cli", "keys", "create", "--file",
                           str(keys), "--id", key_id, "--role", role],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


@dataclass
class SecurePod:
    server: RunningServer
    pki: Pki
    observe: str
    infer: str

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint("127.0.0.1", self.server.http_port, True, True, False, "uid-1", "pod-1",
                        scheme="https")


@pytest.fixture(scope="module")
def pod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecurePod]:
    directory = tmp_path_factory.mktemp("secure-pod")
    pki = Pki.create(directory / "pki")
    keys = directory / "keys.toml"
    observe = _create_key(keys, "prometheus", "observe")
    infer = _create_key(keys, "app", "infer")
    server = start_server(directory, "builtin:sleep?ms=1", "--tls-cert-file",
                          str(pki.server.cert), "--tls-key-file", str(pki.server.key),
                          "--auth-keys-file", str(keys))
    yield SecurePod(server, pki, observe, infer)
    server.stop()


async def _read(pod: SecurePod, tls: ScrapeTls, endpoint: Endpoint | None = None,
                server_name: str | None = "sleep.ns.svc") -> bool:
    scraper = PodScraper(2.0, tls=tls, server_name=server_name)
    try:
        [reading] = await scraper.scrape((endpoint or pod.endpoint,))
    finally:
        await scraper.close()
    return reading.counters is not None and "sleep" in reading.models


def _token(tmp_path: Path, value: str) -> str:
    path = tmp_path / "token"
    path.write_text(value + "\n")
    return str(path)


async def test_reads_a_tls_pod_with_an_observe_key(pod: SecurePod, tmp_path: Path) -> None:
    tls = ScrapeTls(ca_file=str(pod.pki.ca.cert), server_name="localhost",
                    token_file=_token(tmp_path, pod.observe))
    assert await _read(pod, tls)


async def test_each_wrong_setting_leaves_the_pod_unreported(
        pod: SecurePod, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    token = _token(tmp_path, pod.observe)
    ca = str(pod.pki.ca.cert)
    other_ca = str(pod.pki.other_ca.cert)
    # The certificate names localhost and 127.0.0.1, not the Service: refused.
    assert not await _read(pod, ScrapeTls(ca_file=ca, token_file=token))
    assert not await _read(pod, ScrapeTls(ca_file=other_ca, server_name="localhost",
                                          token_file=token))
    caplog.set_level(logging.WARNING, "ebb.kubernetes.controller")
    assert not await _read(pod, ScrapeTls(ca_file=ca, server_name="localhost"))
    wrong_role = ScrapeTls(ca_file=ca, server_name="localhost",
                           token_file=_token(tmp_path, pod.infer))
    assert not await _read(pod, wrong_role)
    plain = Endpoint("127.0.0.1", pod.server.http_port, True, True, False, "uid-1", "pod-1")
    assert not await _read(pod, ScrapeTls(token_file=token), endpoint=plain)
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert "answer /metrics with 401" in said and "answer /metrics with 403" in said
    assert pod.observe not in said and pod.infer not in said


async def test_a_rotated_token_file_is_read_again(pod: SecurePod, tmp_path: Path) -> None:
    path = _token(tmp_path, pod.infer)
    tls = ScrapeTls(ca_file=str(pod.pki.ca.cert), server_name="localhost", token_file=path)
    scraper = PodScraper(2.0, tls=tls)
    try:
        [before] = await scraper.scrape((pod.endpoint,))
        Path(path).write_text(pod.observe + "\n\n")
        [after] = await scraper.scrape((pod.endpoint,))
    finally:
        await scraper.close()
    assert before.counters is None and after.counters is not None


def test_an_https_port_in_the_slice_is_scraped_over_https() -> None:
    raw = {"ports": [{"name": "tls-grpc", "port": 8081}, {"name": "https", "port": 8080}],
           "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": True},
                          "targetRef": {"kind": "Pod", "name": "p", "uid": "u"}}]}
    [endpoint] = endpoints_of(raw)
    assert (endpoint.port, endpoint.scheme) == (8080, "https")


def test_the_flags_and_their_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    base = ["--target", "deployment/m", "--min-replicas", "1", "--max-replicas", "3",
            "--kubeconfig", str(kubeconfig)]
    args = parser.parse_args([*base, "--scrape-ca-file", "/etc/ebb/tls/ca.crt",
                              "--scrape-bearer-token-file", "/etc/ebb/keys/token",
                              "--back-off-s", "30"])
    settings = settings_from(args)
    assert settings.scrape.https and settings.scrape.token_file == "/etc/ebb/keys/token"
    assert settings.back_off_s == 30
    half = parser.parse_args([*base, "--scrape-cert-file", "c.pem"])
    assert run(half) == 2
    assert "--scrape-cert-file and --scrape-key-file go together" in capsys.readouterr().err
    missing = parser.parse_args([*base, "--scrape-ca-file", str(tmp_path / "missing.pem"),
                                 "--http-port", "0", "--http-host", "127.0.0.1"])
    assert run(missing) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "--scrape-ca-file" in error[0], error


async def test_the_controller_reads_secure_pods_with_its_flags(pod: SecurePod,
                                                               tmp_path: Path) -> None:
    from ebb.kubernetes.controller.app import ControllerApp
    from ebb.kubernetes.controller.fake import FakeKubeApi
    from ebb.kubernetes.controller.settings import ControllerSettings, Target

    api = FakeKubeApi(replicas={"m": 1})
    api.set_slice("m-abc", (pod.endpoint,))
    tls = ScrapeTls(ca_file=str(pod.pki.ca.cert), server_name="localhost",
                    token_file=_token(tmp_path, pod.observe))
    settings = ControllerSettings(Target.parse("deployment/m"), "ns", "m", 1, 3,
                                  workers_per_pod=1, http_host="127.0.0.1", http_port=0,
                                  scrape=tls)
    app = ControllerApp(settings, api)
    await app.directory.start()
    try:
        await app.tick()
    finally:
        app.directory.stop()
        await app.scraper.close()
    [reading] = app.source.pods
    assert reading.counters is not None and reading.models == {"sleep"}

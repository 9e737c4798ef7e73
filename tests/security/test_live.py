"""A real ``ebb serve --auth-keys-file`` made with the real ``ebb keys`` command: 401/403/429
on REST and gRPC, tritonclient sending headers, revocation without a restart, and no secret in
any log line the server or the command wrote."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest

from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc
from tests.conftest import RunningServer, start_server

HERE = Path(__file__).parent
BODY = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 16], "data": [1] * 16}]}
INFER = "/v2/models/double/infer"
pytestmark = pytest.mark.timeout(180)


@dataclass
class Deployment:
    server: RunningServer
    keys_file: Path
    secrets: dict[str, str]
    command_output: list[str] = field(default_factory=list)
    """Everything ``ebb keys`` wrote, except the secrets ``create`` prints on stdout."""

    def keys(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "ebb.cli", "keys", *args],
                              capture_output=True, text=True, timeout=60)
        self.command_output.append(done.stderr)
        if args[0] != "create":
            self.command_output.append(done.stdout)
        return done


def _create(deployment: Deployment, key_id: str, *flags: str) -> None:
    done = deployment.keys("create", "--file", str(deployment.keys_file), "--id", key_id, *flags)
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip()
    assert "\n" not in secret and secret.startswith(f"ebb_{key_id}.")
    deployment.secrets[key_id] = secret


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("auth")
    staged = Deployment(None, tmp / "keys.toml", {})  # type: ignore[arg-type]
    _create(staged, "ci", "--role", "infer", "--model", "double")
    _create(staged, "prom", "--role", "observe")
    _create(staged, "slow", "--role", "infer", "--rate", "1", "--burst", "2")
    _create(staged, "victim", "--role", "infer", "--role", "observe")
    assert (staged.keys_file.stat().st_mode & 0o777) == 0o600
    staged.server = start_server(tmp, "builtin:double", "--auth-keys-file",
                                 str(staged.keys_file), "--log-level", "debug")
    yield staged
    staged.server.stop()


def _bearer(deployment: Deployment, key_id: str) -> dict[str, str]:
    return {"authorization": f"Bearer {deployment.secrets[key_id]}"}


def test_rest_401_403_429(deployment: Deployment) -> None:
    with httpx.Client(base_url=deployment.server.url, timeout=30) as http:
        assert http.get("/v2/health/ready").status_code == 200
        assert http.get("/dashboard").status_code == 200
        refused = http.post(INFER, json=BODY)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer realm="ebb"'
        assert http.post(INFER, json=BODY, headers={"authorization": "Bearer ebb_ci.nope"}
                         ).status_code == 401
        assert http.post(INFER, json=BODY, headers=_bearer(deployment, "ci")).status_code == 200
        assert http.get("/metrics", headers=_bearer(deployment, "ci")).status_code == 403
        assert http.get("/v2/models/other", headers=_bearer(deployment, "ci")).status_code == 403
        assert http.post(INFER, json=BODY, headers=_bearer(deployment, "prom")).status_code == 403
        codes = [http.post(INFER, json=BODY, headers=_bearer(deployment, "slow")).status_code
                 for _ in range(4)]
        assert codes[:2] == [200, 200] and 429 in codes[2:]
        metrics = http.get("/metrics", headers=_bearer(deployment, "prom"))
        assert metrics.status_code == 200
        for reason in ("unauthenticated", "forbidden", "rate_limited"):
            assert f'ebb_requests_rejected_total{{protocol="rest",reason="{reason}"}}' \
                in metrics.text
        assert 'protocol="rest",reason="unauthenticated"} 0.0' not in metrics.text


def test_grpc_unauthenticated_denied_exhausted(deployment: Deployment) -> None:
    request = pb.ModelInferRequest(model_name="double")
    request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 16]).contents \
        .fp32_contents.extend([1.0] * 16)

    def code(key_id: str | None, call: str = "ModelInfer", message: object = request
             ) -> grpc.StatusCode:
        metadata = tuple(_bearer(deployment, key_id).items()) if key_id else ()
        try:
            getattr(stub, call)(message, metadata=metadata, timeout=30)
        except grpc.RpcError as error:
            return error.code()  # type: ignore[no-any-return]
        return grpc.StatusCode.OK

    with grpc.insecure_channel(deployment.server.grpc_target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        assert stub.ServerLive(pb.ServerLiveRequest(), timeout=30).live
        assert code(None) == grpc.StatusCode.UNAUTHENTICATED
        assert code("ci") == grpc.StatusCode.OK
        assert code("prom") == grpc.StatusCode.PERMISSION_DENIED
        assert code("ci", "ModelMetadata", pb.ModelMetadataRequest(name="other")) == \
            grpc.StatusCode.PERMISSION_DENIED
        assert code("prom", "ServerMetadata", pb.ServerMetadataRequest()) == grpc.StatusCode.OK
        time.sleep(2.1)  # let the REST test's use of "slow" refill
        codes = [code("slow") for _ in range(4)]
        assert codes[:2] == [grpc.StatusCode.OK] * 2
        assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes[2:]


def test_tritonclient_sends_the_key_as_a_header(deployment: Deployment) -> None:
    server = deployment.server
    process = subprocess.run(
        [sys.executable, str(HERE / "_triton_clients.py"), server.url.removeprefix("http://"),
         server.grpc_target], capture_output=True, text=True, timeout=120,
        env={**os.environ, "EBB_TEST_GOOD": deployment.secrets["ci"],
             "EBB_TEST_BAD": "ebb_ci.not-the-secret"})
    assert process.returncode == 0, process.stderr
    results = json.loads(process.stdout)
    assert results == {
        "http_live": "ok", "http_infer_good": "ok", "http_infer_bad": "401",
        "http_infer_none": "401", "http_metadata_good": "ok",
        "grpc_live": "ok", "grpc_infer_good": "ok",
        "grpc_infer_bad": "StatusCode.UNAUTHENTICATED",
        "grpc_infer_none": "StatusCode.UNAUTHENTICATED",
        "grpc_server_metadata_good": "StatusCode.PERMISSION_DENIED"}


def test_list_shows_keys_without_hashes(deployment: Deployment) -> None:
    listed = deployment.keys("list", "--file", str(deployment.keys_file))
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ID", "ROLES", "MODELS", "RATE", "BURST"]
    assert any(line.split() == ["ci", "infer", "double", "-", "-"] for line in lines)
    assert any(line.split() == ["slow", "infer", "*", "1", "2"] for line in lines)
    assert "scrypt" not in listed.stdout


def test_bad_commands_are_one_line_errors(deployment: Deployment, tmp_path: Path) -> None:
    path = str(deployment.keys_file)
    for args, status, message in [
            (("create", "--file", path, "--id", "ci", "--role", "infer"), 2, "already exists"),
            (("create", "--file", path, "--id", "a.b", "--role", "infer"), 2, "--id 'a.b'"),
            (("create", "--file", path, "--id", "x", "--role", "infer", "--burst", "3"), 2,
             "--burst needs --rate"),
            (("create", "--file", path, "--id", "x", "--role", "infer", "--rate", "-1"), 2,
             "rate must be"),
            (("revoke", "--file", path, "nobody"), 2, "no key 'nobody'"),
            (("list", "--file", str(tmp_path / "missing.toml")), 1, "cannot read keys file")]:
        done = deployment.keys(*args)
        assert done.returncode == status, (args, done.stderr)
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = deployment.keys("create", "--file", path, "--id", "x", "--role", "root")
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_revocation_takes_effect_without_a_restart(deployment: Deployment) -> None:
    with httpx.Client(base_url=deployment.server.url, timeout=30) as http:
        victim = _bearer(deployment, "victim")
        assert http.post(INFER, json=BODY, headers=victim).status_code == 200
        assert deployment.keys("revoke", "--file", str(deployment.keys_file),
                               "victim").returncode == 0
        deadline = time.monotonic() + 10
        while http.post(INFER, json=BODY, headers=victim).status_code == 200:
            assert time.monotonic() < deadline, "the revoked key still works after 10 s"
            time.sleep(0.1)
        assert http.get("/metrics", headers=victim).status_code == 401
        assert http.post(INFER, json=BODY, headers=_bearer(deployment, "ci")).status_code == 200
        # a broken file keeps the keys in force
        text = deployment.keys_file.read_text()
        deployment.keys_file.write_text("[[keys]\n")
        time.sleep(2.5)
        assert http.post(INFER, json=BODY, headers=_bearer(deployment, "ci")).status_code == 200
        assert http.post(INFER, json=BODY, headers=victim).status_code == 401
        deployment.keys_file.write_text(text)
    assert deployment.server.log().count("not valid TOML") == 1


def test_zz_no_secret_or_bearer_value_in_any_log_line(deployment: Deployment) -> None:
    """Runs last in this module: every request above has been made and logged."""
    log = deployment.server.log()
    assert "keys file" in log and "re-read" in log  # the logs are there, and at debug level
    lines = log.splitlines() + "\n".join(deployment.command_output).splitlines()
    assert len(lines) > 10
    forbidden = [secret for secret in deployment.secrets.values()]
    forbidden += [secret.partition(".")[2] for secret in forbidden]  # the random part alone
    forbidden += ["ebb_ci.nope", "ebb_ci.not-the-secret"]
    bearer_value = re.compile(r"bearer\s+[^<\s]", re.IGNORECASE)  # "Bearer <key>" is a hint
    for line in lines:
        assert not bearer_value.search(line), f"a Bearer value leaked into: {line!r}"
        for text in forbidden:
            assert text not in line, f"a secret leaked into: {line!r}"

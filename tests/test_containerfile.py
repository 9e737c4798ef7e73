"""The container image, tested without building it: these machines have no container registry
to pull the base image from (and no container daemon), so ``make image`` cannot run here.

What can be tested is tested: the Containerfile's facts as a parser reads them (stages and
base, numeric non-root user, tini as PID 1, ports, a HEALTHCHECK that needs no curl, the default
command), and the image's exact command run on this machine with the image's environment and
a temporary directory standing in for /mnt/models. Differences from the container, on purpose:
the server binds 127.0.0.2 on free ports instead of 0.0.0.0:8080/8081 (tests stay on loopback),
the venv is this checkout's instead of /opt/ebb, and tini is skipped when not installed here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTAINERFILE = ROOT / "Containerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` in order: comments dropped, continuations joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    """The build stages, each from its FROM on (ARGs before the first FROM are stage 0)."""
    found: list[list[tuple[str, str]]] = [[]]
    for keyword, rest in instructions(CONTAINERFILE.read_text()):
        if keyword == "FROM":
            found.append([])
        found[-1].append((keyword, rest))
    return found


def final(keyword: str) -> str:
    values = [rest for key, rest in stages()[-1] if key == keyword]
    assert values, f"the final stage has no {keyword}"
    return values[-1]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for key, rest in stages()[-1]:
        if key == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(rest))
    return env


def test_two_stages_on_the_slim_python_base_install_a_wheel_into_a_venv() -> None:
    args = [rest for key, rest in stages()[0] if key == "ARG"]
    assert args == ["PYTHON_IMAGE=python:3.11-slim-bookworm"]
    build, runtime = stages()[1:]
    assert build[0] == ("FROM", "${PYTHON_IMAGE} AS build")
    assert runtime[0] == ("FROM", "${PYTHON_IMAGE}")
    build_runs = " ".join(rest for key, rest in build if key == "RUN")
    assert "python -m venv /opt/ebb" in build_runs
    assert "pip wheel" in build_runs and "/opt/ebb/bin/pip install" in build_runs
    assert ("COPY", "--from=build /opt/ebb /opt/ebb") in runtime
    runtime_runs = " ".join(rest for key, rest in runtime if key == "RUN")
    assert "install -y --no-install-recommends tini" in runtime_runs
    assert "mkdir -p /mnt/models" in runtime_runs


def test_a_numeric_non_root_user_tini_and_the_ports() -> None:
    user = final("USER")
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", user), "numeric, so runAsNonRoot can verify it"
    assert user.split(":")[0] == "10001"
    assert json.loads(final("ENTRYPOINT")) == ["/usr/bin/tini", "--"]
    assert final("EXPOSE").split() == ["8080", "8081"]
    assert json.loads(final("CMD")) == ["ebb", "serve"]
    env = image_env()
    assert env["EBB_HOST"] == "0.0.0.0"
    assert (env["EBB_HTTP_PORT"], env["EBB_GRPC_PORT"]) == ("8080", "8081")
    assert env["PATH"].startswith("/opt/ebb/bin:")


def test_the_healthcheck_asks_python_for_the_live_path() -> None:
    text = final("HEALTHCHECK")
    assert "--interval=" in text and "--timeout=" in text
    command = json.loads(text.split("CMD", 1)[1])
    assert command[0] == "python" and "curl" not in text
    assert "http://127.0.0.1:8080/v2/health/live" in command[-1]


def _wait_for_banner(process: subprocess.Popen[str], log: Path) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(r"REST\s+http://127\.0\.0\.2:(\d+)/v2", log.read_text())
        if match:
            return int(match.group(1))
        if process.poll() is not None:
            pytest.fail(f"the image's command exited {process.returncode}:\n{log.read_text()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"no banner in 60 s:\n{log.read_text()}")


def test_the_image_command_serves_a_model_from_the_models_dir(tmp_path: Path) -> None:
    from ebb.runtime.demo import build

    models = tmp_path / "mnt-models"
    build(models / "model.onnx")
    env = {**os.environ, **image_env(), "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1",
           "EBB_CACHE_DIR": str(tmp_path / "cache"), "EBB_HOST": "127.0.0.2",
           "EBB_HTTP_PORT": "0", "EBB_GRPC_PORT": "0",
           "PATH": image_env()["PATH"].replace("/opt/ebb/bin", str(Path(sys.executable).parent))
           .replace("$PATH", os.environ["PATH"])}
    entrypoint = json.loads(final("ENTRYPOINT")) if shutil.which("tini") else []
    command = [*entrypoint, *json.loads(final("CMD")), str(models / "model.onnx")]
    log = tmp_path / "serve.log"
    with log.open("w") as handle:
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                   text=True, cwd=tmp_path)
    try:
        port = _wait_for_banner(process, log)
        probe = json.loads(final("HEALTHCHECK").split("CMD", 1)[1])
        probe[-1] = probe[-1].replace("127.0.0.1:8080", f"127.0.0.2:{port}")
        probe[0] = sys.executable
        assert subprocess.run(probe, timeout=10).returncode == 0
        banner = log.read_text()
        assert re.search(r"model \S+ v\d+ \(onnxruntime_onnx\)", banner), banner
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text()
        assert subprocess.run(probe, capture_output=True, timeout=10).returncode != 0
    finally:
        if process.poll() is None:
            process.kill()

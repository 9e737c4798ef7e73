"""``--load-on-demand`` and ``--idle-unload-s``: models load on their first request and unload
after a quiet spell, so a node can host more models than fit at once."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.conftest import start_server
from tests.repository.conftest import write_repository

ROW = [float(i) for i in range(16)]
BODY = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 16], "data": ROW}]}


def _states(http: httpx.Client) -> dict[str, set[str]]:
    states: dict[str, set[str]] = {}
    for row in http.post("/v2/repository/index").json():
        states.setdefault(row["name"], set()).add(row["state"])
    return states


def _wait_unloaded(http: httpx.Client, name: str, timeout_s: float) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if _states(http)[name] == {"UNAVAILABLE"}:
            return time.monotonic() - began
        time.sleep(0.2)
    raise AssertionError(f"{name} still loaded after {timeout_s} s")


def test_models_load_on_first_request_and_unload_when_idle(tmp_path: Path) -> None:
    root = write_repository(tmp_path / "repository")
    # --max-workers 2: autoscaling from zero, so the loaded model's autoscaler starts its worker
    server = start_server(tmp_path, str(root), "--load-on-demand", "--idle-unload-s", "2",
                          "--max-workers", "2", "--autoscale-interval-s", "0.2")
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            assert _states(http) == {name: {"UNAVAILABLE"} for name in
                                     ("double", "scorer", "slow")}
            assert http.get("/v2/health/ready").status_code == 200
            assert http.get("/dashboard/data").status_code == 503  # nothing loaded: no 500
            assert http.get("/v2/models/double").json()["versions"] == ["2", "3"]
            assert http.get("/v2/models/double/ready").json()["ready"] is False
            assert http.post("/v2/models/nope/infer", json=BODY).status_code == 404
            first = http.post("/v2/models/double/infer", json=BODY)
            assert first.status_code == 200, first.text
            assert first.json()["model_version"] == "3"
            assert _states(http)["double"] == {"READY"}
            assert _states(http)["scorer"] == {"UNAVAILABLE"}
            _wait_unloaded(http, "double", timeout_s=20)
            again = http.post("/v2/models/double/versions/2/infer", json=BODY)
            assert again.status_code == 200, again.text
        assert "model double: no request for 2 s (--idle-unload-s); unloading" in server.log()
    finally:
        server.stop()

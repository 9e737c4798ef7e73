"""Through real ``ebb serve`` processes, against SQLite and PostgreSQL alike."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest

from ebb.inference_log.rows import request_rows
from ebb.inference_log.store import open_store
from ebb.inference_log.url import parse_database_url
from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc
from tests.conftest import RunningServer, start_server
from tests.inference_log._postgres import PostgresCluster
from tests.inference_log._records import record
from tests.inference_log.test_store import sql

pytestmark = pytest.mark.slow
DATA = [float(i) for i in range(16)]


def body(request_id: str) -> dict[str, object]:
    return {"id": request_id,
            "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 16], "data": DATA}]}


def serve(tmp_path: Path, url: str, *flags: str) -> RunningServer:
    return start_server(tmp_path, "builtin:double", "--inference-log", url,
                        "--max-batch-delay-ms", "1", *flags)


def send(server: RunningServer, count: int, prefix: str = "r") -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for index in range(count):
            answer = client.post("/v2/models/double/infer", json=body(f"{prefix}{index}"))
            assert answer.status_code == 200, answer.text


def metric(server: RunningServer, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    match = re.search(rf"^{name} ([\d.e+]+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


class Load(threading.Thread):
    """Closed-loop clients with distinct request ids; remembers every answer it got."""

    def __init__(self, server: RunningServer, clients: int = 4) -> None:
        super().__init__(daemon=True)
        self.server, self.clients = server, clients
        self.stop = threading.Event()
        self.answers: dict[str, int] = {}
        self.failures: list[str] = []

    def run(self) -> None:
        workers = [threading.Thread(target=self._client, args=(n,)) for n in range(self.clients)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def _client(self, number: int) -> None:
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            index = 0
            while not self.stop.is_set():
                request_id = f"c{number}-{index}"
                index += 1
                try:
                    answer = client.post("/v2/models/double/infer", json=body(request_id))
                except httpx.TransportError as error:
                    self.failures.append(f"{request_id}: {error!r}")
                    continue
                self.answers[request_id] = answer.status_code


def logged_ids(url: str) -> set[str]:
    return {request_id for (request_id,) in sql(url, "SELECT client_request_id FROM requests")}


def test_n_requests_make_exactly_n_rows_with_full_payloads(tmp_path: Path, log_url: str
                                                           ) -> None:
    server = serve(tmp_path, log_url, "--inference-log-payloads", "full")
    send(server, 120)
    assert server.stop() == 0
    assert logged_ids(log_url) == {f"r{i}" for i in range(120)}
    assert sql(log_url, "SELECT count(*), min(status), max(status) FROM requests") == [
        (120, 200, 200)]
    payloads = sql(log_url, "SELECT direction, payload FROM tensors")
    assert len(payloads) == 240
    for direction, payload in payloads:
        expected = np.array(DATA, "<f4") * (2 if direction == "out" else 1)
        np.testing.assert_array_equal(np.frombuffer(bytes(payload), "<f4"), expected)


def test_sampling_through_the_server(tmp_path: Path, log_url: str) -> None:
    server = serve(tmp_path, log_url, "--inference-log-sample", "0.25")
    send(server, 100)
    server.stop()
    assert sql(log_url, "SELECT count(*) FROM requests") == [(25,)]


def test_sigterm_mid_load_loses_no_answered_request(tmp_path: Path, log_url: str) -> None:
    server = serve(tmp_path, log_url, "--inference-log-payloads", "hash")
    load = Load(server)
    load.start()
    time.sleep(2.0)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(30) == 0
    load.stop.set()
    load.join(30)
    answered = set(load.answers)
    assert sum(code == 200 for code in load.answers.values()) > 50
    assert answered <= logged_ids(log_url), server.log()
    assert "not written at shutdown" not in server.log()


def _take_database_away(engine: str, url: str, postgres: PostgresCluster | None,
                        seconds: float) -> None:
    """PostgreSQL: stop the cluster; SQLite: hold its write lock (a busy or stuck disk)."""
    if postgres is not None:
        postgres.stop("fast")
        time.sleep(seconds)
        postgres.start()
        return
    with sqlite3.connect(parse_database_url(url).target, timeout=10) as holder:
        holder.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        holder.rollback()


def test_a_database_outage_never_fails_inference(tmp_path: Path, engine: str, log_url: str,
                                                 request: pytest.FixtureRequest) -> None:
    postgres = request.getfixturevalue("postgres") if engine == "postgresql" else None
    server = serve(tmp_path, log_url, "--inference-log-buffer", "200")
    load = Load(server)
    load.start()
    time.sleep(1.5)
    _take_database_away(engine, log_url, postgres, 8.0)
    back = time.time()
    deadline = back + 20
    while "reachable again" not in server.log() and time.time() < deadline:
        time.sleep(0.1)  # the writer retries with backoff (at most 5 s apart)
    time.sleep(1.0)
    load.stop.set()
    load.join(30)
    assert not load.failures and set(load.answers.values()) == {200}
    time.sleep(1.0)
    dropped = metric(server, "ebb_inference_log_dropped_total")
    written = metric(server, "ebb_inference_log_written_total")
    assert server.stop() == 0
    assert dropped > 0, server.log()
    assert written + dropped == len(load.answers)
    rows = sql(log_url, "SELECT count(*) FROM requests")[0][0]
    assert rows == len(load.answers) - dropped
    since = str(back) if engine == "sqlite" else f"to_timestamp({back})"
    after = sql(log_url, f"SELECT count(*) FROM requests WHERE received_at > {since}")[0][0]
    assert after > 0, "no rows after the database came back"
    assert server.log().count("unavailable (") == 1


def test_retention_prunes_old_rows_at_start(tmp_path: Path, log_url: str) -> None:
    import asyncio

    async def seed() -> None:
        store = open_store(parse_database_url(log_url))
        await store.connect()
        await store.write(request_rows(
            [record(i, received_at=time.time() - 40 * 86_400) for i in range(5)], "full"))
        await store.close()

    asyncio.run(seed())
    server = serve(tmp_path, log_url, "--inference-log-retention-days", "30")
    send(server, 3, prefix="new")
    server.stop()
    assert logged_ids(log_url) == {"new0", "new1", "new2"}
    assert sql(log_url, "SELECT count(*) FROM tensors") == [(6,)]
    assert "pruned 5 requests older than 30 days" in server.log()


def _create_key(keys_file: Path, key_id: str, *flags: str) -> str:
    done = subprocess.run([sys.executable, "-m", "ebb.cli", "keys", "create", "--file",
                           str(keys_file), "--id", key_id, *flags],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def test_requests_refused_by_auth_are_logged_without_secrets(tmp_path: Path, log_url: str
                                                              ) -> None:
    keys_file = tmp_path / "keys.toml"
    secrets = {"ci": _create_key(keys_file, "ci", "--role", "infer", "--model", "double"),
               "prom": _create_key(keys_file, "prom", "--role", "observe"),
               "slow": _create_key(keys_file, "slow", "--role", "infer", "--rate", "0.01",
                                   "--burst", "1")}
    server = serve(tmp_path, log_url, "--auth-keys-file", str(keys_file))
    wrong = "ebb_ci.this-is-not-the-secret"
    with httpx.Client(base_url=server.url, timeout=30) as client:
        def infer(request_id: str, key: str | None) -> int:
            headers = {"authorization": f"Bearer {key}"} if key else {}
            return client.post("/v2/models/double/infer", json=body(request_id),
                               headers=headers).status_code

        assert [infer("a", None), infer("b", wrong), infer("c", secrets["prom"]),
                infer("d", secrets["ci"]), infer("e", secrets["slow"]),
                infer("f", secrets["slow"])] == [401, 401, 403, 200, 200, 429]
        assert client.get("/metrics").status_code == 401  # not an inference: not logged
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        request = pb.ModelInferRequest(model_name="double", id="g")
        with pytest.raises(grpc.RpcError) as refused:
            stub.ModelInfer(request, metadata=(("authorization", f"Bearer {wrong}"),))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert server.stop() == 0
    rows = sql(log_url, "SELECT r.status, p.name, m.name, r.api_key_id, r.client_request_id, "
                        "r.error FROM requests r JOIN model_versions v "
                        "ON v.id = r.model_version_id JOIN models m ON m.id = v.model_id "
                        "LEFT JOIN protocols p ON p.id = r.protocol_id ORDER BY r.id")
    assert [row[:4] for row in rows] == [
        (401, "rest", "double", None), (401, "rest", "double", None),
        (403, "rest", "double", "prom"), (200, "rest", "double", "ci"),
        (200, "rest", "double", "slow"), (429, "rest", "double", "slow"),
        (401, "grpc", "double", None)]
    assert "lacks the 'infer' role" in rows[2][5] and "rate limit" in rows[5][5]
    everything = repr(sql(log_url, "SELECT * FROM request_log")) + server.log()
    for secret in (*secrets.values(), wrong):
        assert secret not in everything and secret.split(".")[1] not in everything

"""A FAKE Kubernetes API server for tests: a real HTTP server on 127.0.0.1 that the official
``kubernetes`` client talks to through a generated kubeconfig.

It is a fake because no real API server can run on these machines (SPEC §3: no envtest, k3s or
kind here), and it implements only what ``ebb controller`` uses: Deployment ``/scale`` GET, PUT
and merge-PATCH with one global, rising ``resourceVersion`` and 409 on a stale PUT; EndpointSlices
filtered by ``kubernetes.io/service-name`` with list and watch (resourceVersion, BOOKMARK at
the end of a watch, 410 Gone below the compaction mark); Leases (create, read, replace with the
same conflict rule); Events; HPA lists; InferenceService reads; pod annotation patches; a
Deployment GET whose ``managedFields`` say who last wrote ``spec.replicas`` (the writer of a
PUT ``/scale`` takes the field over, as an Update operation that changes it does); and fault
injection (a status or a delay for the next N calls of a method and path). What it does not
do: authentication, admission, defaulting, validation, managedFields of any other field.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

NS = r"/namespaces/(?P<ns>[^/]+)"


@dataclass
class Fault:
    method: str
    path: str
    """A regular expression searched in the request path."""
    status: int | None = None
    delay_s: float = 0.0
    times: int = 1


@dataclass
class Write:
    at: float
    deployment: str
    replicas: int
    field_manager: str


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


@dataclass
class State:
    version: int = 100
    deployments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    slices: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    slice_log: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    compacted_below: int = 0
    leases: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    hpas: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    isvcs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    pod_annotations: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)


class FakeApiServer:
    def __init__(self) -> None:
        self.state = State()
        self.lock = threading.Condition()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "not-checked"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake",
                                                      "namespace": namespace}}]}))
        return path

    def _bump(self) -> int:
        self.state.version += 1
        return self.state.version

    # --- objects the tests set up (thread-safe) ---

    def add_deployment(self, ns: str, name: str, replicas: int) -> None:
        with self.lock:
            self.state.deployments[(ns, name)] = {"replicas": replicas, "rv": self._bump()}
            self.lock.notify_all()

    def replicas(self, ns: str, name: str) -> int:
        with self.lock:
            return int(self.state.deployments[(ns, name)]["replicas"])

    def set_replicas(self, ns: str, name: str, replicas: int, manager: str = "kubectl",
                     at: float | None = None) -> None:
        """Another writer (``kubectl scale``) changes the count and so owns it."""
        with self.lock:
            self.state.deployments[(ns, name)] = {
                "replicas": replicas, "rv": self._bump(),
                "owner": (manager, time.time() if at is None else at)}
            self.lock.notify_all()

    def set_slice(self, ns: str, name: str, service: str, endpoints: list[dict[str, Any]],
                  port: int) -> None:
        with self.lock:
            kind = "MODIFIED" if (ns, name) in self.state.slices else "ADDED"
            version = self._bump()
            body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": name, "namespace": ns, "resourceVersion": str(version),
                                 "labels": {"kubernetes.io/service-name": service}},
                    "addressType": "IPv4", "endpoints": endpoints,
                    "ports": [{"name": "grpc", "port": port + 1, "protocol": "TCP"},
                              {"name": "http", "port": port, "protocol": "TCP"}]}
            self.state.slices[(ns, name)] = body
            self.state.slice_log.append((version, kind, body))
            self.lock.notify_all()

    def compact(self) -> None:
        """Forget watch history: a watch from an older version now gets 410 Gone."""
        with self.lock:
            self.state.compacted_below = self._bump()
            self.state.slice_log.clear()

    def add_hpa(self, ns: str, name: str, target: str) -> None:
        with self.lock:
            self.state.hpas.setdefault(ns, []).append({
                "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                            "name": target}, "maxReplicas": 10}})

    def add_inference_service(self, ns: str, name: str, annotations: dict[str, str]) -> None:
        with self.lock:
            self.state.isvcs[(ns, name)] = {
                "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                "metadata": {"name": name, "namespace": ns, "annotations": annotations},
                "spec": {"predictor": {}}}

    def inject(self, fault: Fault) -> None:
        with self.lock:
            self.state.faults.append(fault)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.state.faults:
                if fault.method == method and re.search(fault.path, path) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None


def _handler(server: FakeApiServer) -> type[BaseHTTPRequestHandler]:
    from tests.kubernetes.controller.fake_routes import route

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            parsed = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null") if length else None
            with server.lock:
                server.state.requests.append((self.command, parsed.path))
            fault = server.take_fault(self.command, parsed.path)
            if fault is not None:
                time.sleep(fault.delay_s)
                if fault.status is not None:
                    self.send_json(fault.status, _status(fault.status, "Injected", "fault"))
                    return
            route(server, self, self.command, parsed.path, query, body)

        def send_json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def stream(self, lines: Callable[[], Any]) -> None:
            """A watch as the API server sends it: chunked, one event per chunk, so the client
            sees each event at once (a body read to EOF would hold every event back until the
            watch ends, up to its timeoutSeconds)."""
            self.protocol_version = "HTTP/1.1"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                for line in lines():
                    data = json.dumps(line).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the watcher went away, as a real client may at any time

        do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _serve

    return Handler


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return _status(code, reason, message)

"""The fake API server's stand-in for the Deployment controller and the kubelet (a FAKE, for
tests): it turns a Deployment's replicas into real ``ebb serve`` processes, each on its own
loopback address (127.0.0.2, 127.0.0.3, ...) with the same ports, listed as endpoints of one
EndpointSlice. A new pod is listed not ready until ``/v2/health/ready`` answers. On scale-in it
picks victims as a ReplicaSet does (not ready first, then the lowest
``controller.kubernetes.io/pod-deletion-cost``, then the newest), lists them as terminating
(serving, not ready), sends SIGTERM, and drops them from the slice once the process exits."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.kubernetes.controller.fake_apiserver import FakeApiServer

COST = "controller.kubernetes.io/pod-deletion-cost"


@dataclass
class Pod:
    name: str
    address: str
    uid: str
    process: subprocess.Popen[bytes]
    started: float
    ready_at: float | None = None
    terminating: bool = False


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class FakeKubelet:
    api: FakeApiServer
    namespace: str
    deployment: str
    service: str
    serve_args: list[str]
    logs: Path
    port: int = field(default_factory=lambda: free_port("127.0.0.2"))
    pods: list[Pod] = field(default_factory=list)
    ready_log: list[float] = field(default_factory=list)
    """When each pod became ready (monotonic), in order."""
    killed_starting: int = 0
    """Pods deleted before they ever became ready (a scale-in while they were starting)."""
    _next: int = 2
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for pod in self.pods:
            if pod.process.poll() is None:
                pod.process.kill()
            pod.process.wait()

    def ready_addresses(self) -> list[str]:
        """What a Service routes to: ready, not terminating."""
        with self._lock:
            return [p.address for p in self.pods if p.ready_at and not p.terminating]

    def _spawn(self) -> Pod:
        if self._next > 254:
            raise RuntimeError("the fake kubelet ran out of loopback addresses (pods churned)")
        address = f"127.0.0.{self._next}"
        self._next += 1
        name = f"{self.deployment}-{self._next - 2}"
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "ebb.cli", "serve", *self.serve_args, "--host", address,
             "--http-port", str(self.port), "--grpc-port", str(self.port + 1)],
            stdout=log, stderr=subprocess.STDOUT)
        return Pod(name, address, str(uuid.uuid4()), process, time.monotonic())

    def _victims(self, count: int) -> list[Pod]:
        if count <= 0:
            return []
        live = [p for p in self.pods if not p.terminating]
        with self.api.lock:
            costs = {p.name: int(self.api.state.pod_annotations.get(
                (self.namespace, p.name), {}).get(COST, 0)) for p in live}
        live.sort(key=lambda p: (p.ready_at is not None, costs[p.name], -p.started))
        return live[:count]

    def _reconcile(self) -> bool:
        changed = False
        desired = self.api.replicas(self.namespace, self.deployment)
        live = [p for p in self.pods if not p.terminating]
        for _ in range(desired - len(live)):
            self.pods.append(self._spawn())
            changed = True
        for pod in self._victims(max(len(live) - desired, 0)):
            pod.terminating = True
            self.killed_starting += pod.ready_at is None
            pod.process.send_signal(signal.SIGTERM)
            changed = True
        for pod in list(self.pods):
            if pod.terminating and pod.process.poll() is not None:
                self.pods.remove(pod)
                changed = True
            elif not pod.terminating and pod.ready_at is None and self._ready(pod):
                pod.ready_at = time.monotonic()
                self.ready_log.append(pod.ready_at)
                changed = True
        return changed

    def _ready(self, pod: Pod) -> bool:
        try:
            url = f"http://{pod.address}:{self.port}/v2/health/ready"
            return httpx.get(url, timeout=0.2).status_code == 200
        except httpx.HTTPError:
            return False

    def _publish(self) -> None:
        endpoints = [{"addresses": [p.address],
                      "conditions": {"ready": bool(p.ready_at) and not p.terminating,
                                     "serving": bool(p.ready_at) or p.terminating,
                                     "terminating": p.terminating},
                      "targetRef": {"kind": "Pod", "name": p.name, "uid": p.uid,
                                    "namespace": self.namespace}} for p in self.pods]
        self.api.set_slice(self.namespace, f"{self.service}-abcde", self.service, endpoints,
                           self.port)

    def _loop(self) -> None:
        self._publish()
        while not self._stop.is_set():
            with self._lock:
                changed = self._reconcile()
            if changed:
                self._publish()
            self._stop.wait(0.05)

"""The end-to-end test's load sender, run as its own process so that it never competes for the
test process's GIL with the fake API server and kubelet (on a loaded 2-core machine a sender
thread there starved and sent far below its rate).

It plays a least-request Service: every 0.1 s it reads the EndpointSlices from the (FAKE) API
server and sends each request to the ready, non-terminating pod with the fewest outstanding
requests. Requests are open loop at the phase's rate, written as raw HTTP/1.1 on keep-alive
asyncio connections (no client library: a few microseconds per request). A request fails when
it gets no answer or an answer other than 200; a request whose reused keep-alive connection
turns out closed before any byte came back is resent once on a new connection (the server
never read it), as HTTP clients do.

    python -m tests.kubernetes.controller.load_sender API_URL NS SERVICE MODEL OUT.json \
        5:20 ready+8/90:70 down+3/40:20     # phases, each DURATION:RATE

A phase's duration is seconds, ``ready+H/M``: until the Deployment (named as the Service) asks
for more than one pod and that many are ready, or ``down+H/M``: until it asks for one pod
again; then H seconds more, at most M seconds in all (a pod's cold start on a loaded machine
varies from seconds to most of a minute).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

BODY = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4],
                               "data": [1, 1, 1, 1]}]}).encode()


class Stale(Exception):
    """A reused connection was closed by the server before it answered."""


@dataclass
class Pods:
    """The Service's ready endpoints, as the API server lists them, and the open connections."""

    api: str
    namespace: str
    service: str
    ready: list[tuple[str, int]] = field(default_factory=list)
    seen: list[tuple[float, int]] = field(default_factory=list)
    """(when, how many) each time the count of ready endpoints changed."""
    outstanding: dict[tuple[str, int], int] = field(default_factory=dict)
    idle: dict[tuple[str, int], list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = \
        field(default_factory=dict)

    async def get(self, path: str) -> Any:
        host, port = self.api.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: api\r\n\r\n".encode())
            raw = await reader.read()
        finally:
            writer.close()
        return json.loads(raw.split(b"\r\n\r\n", 1)[1])

    async def asked(self) -> int:
        """The Deployment's ``spec.replicas``."""
        scale = await self.get(f"/apis/apps/v1/namespaces/{self.namespace}/deployments/"
                               f"{self.service}/scale")
        return int(scale["spec"]["replicas"])

    async def refresh(self) -> None:
        listing = await self.get(
            f"/apis/discovery.k8s.io/v1/namespaces/{self.namespace}/endpointslices"
            f"?labelSelector=kubernetes.io/service-name%3D{self.service}")
        ready = []
        for item in listing.get("items", []):
            http = [p["port"] for p in item.get("ports", []) if p.get("name") == "http"]
            for endpoint in item.get("endpoints", []):
                conditions = endpoint.get("conditions", {})
                if conditions.get("ready") and not conditions.get("terminating"):
                    ready += [(a, http[0]) for a in endpoint.get("addresses", [])]
        self.ready = ready
        if not self.seen or self.seen[-1][1] != len(ready):
            self.seen.append((time.monotonic(), len(ready)))

    def pick(self) -> tuple[str, int] | None:
        if not self.ready:
            return None
        return min(self.ready, key=lambda pod: self.outstanding.get(pod, 0))


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes, reused: bool) -> tuple[int, bool]:
    """(status, keep-alive) of one request on one connection."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n") if not reused else await _first(reader)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() != "close"


async def _first(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if not error.partial:
            raise Stale from None
        raise


async def send(pods: Pods, pod: tuple[str, int], model: str) -> bool:
    request = (f"POST /v2/models/{model}/infer HTTP/1.1\r\nHost: {pod[0]}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
               ).encode() + BODY
    for _attempt in range(2):
        pool = pods.idle.setdefault(pod, [])
        reused = bool(pool)
        reader, writer = pool.pop() if pool else await asyncio.open_connection(*pod)
        try:
            status, keep = await asyncio.wait_for(_exchange(reader, writer, request, reused), 60)
        except (Stale, ConnectionResetError, BrokenPipeError):
            writer.close()
            if reused:
                continue
            return False
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, IndexError):
            writer.close()
            return False
        if keep:
            pool.append((reader, writer))
        else:
            writer.close()
        return status == 200
    return False


@dataclass(frozen=True)
class Phase:
    rate: float
    seconds: float
    """The fixed duration, or the longest one when ``after_ready`` is set."""
    after: float | None = None
    """Seconds more once ``until`` holds (None: a fixed duration)."""
    until: str = ""
    """``ready`` or ``down``."""

    @classmethod
    def parse(cls, text: str) -> Phase:
        duration, rate = text.split(":")
        until, plus, rest = duration.partition("+")
        if plus:
            hold, longest = rest.split("/")
            return cls(float(rate), float(longest), float(hold), until)
        return cls(float(rate), float(duration))


async def _ends(pods: Pods, phase: Phase, start: float) -> float:
    """When ``phase`` ends, as known now (checked twice a second)."""
    if phase.after is None:
        return start + phase.seconds
    with contextlib.suppress(OSError, ValueError, KeyError, IndexError):
        asked = await pods.asked()
        ready = asked > 1 and len(pods.ready) >= asked
        if (ready and phase.until == "ready") or (asked <= 1 and phase.until == "down"):
            return min(time.monotonic() + phase.after, start + phase.seconds)
    return start + phase.seconds


async def run(pods: Pods, model: str, phases: list[Phase]) -> dict[str, object]:
    results: list[tuple[float, float, bool]] = []
    starts: list[float] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one(pod: tuple[str, int]) -> None:
        pods.outstanding[pod] = pods.outstanding.get(pod, 0) + 1
        sent = time.monotonic()
        ok = await send(pods, pod, model)
        pods.outstanding[pod] -= 1
        results.append((sent, time.monotonic() - sent, ok))

    async def watch() -> None:
        while True:
            try:
                await pods.refresh()
            except (OSError, ValueError, IndexError) as error:
                print(f"endpoint refresh failed: {error!r}", file=sys.stderr)
            await asyncio.sleep(0.1)

    await pods.refresh()
    watcher = asyncio.create_task(watch())
    unsent = 0
    for phase in phases:
        start = checked = time.monotonic()
        starts.append(start)
        end = await _ends(pods, phase, start)
        fixed = phase.after is None
        sent = 0
        while (now := time.monotonic()) < end:
            if not fixed and now - checked >= 0.5:
                checked = now
                end = await _ends(pods, phase, start)
                fixed = end < start + phase.seconds
            for _ in range(int((now - start) * phase.rate) - sent):
                pod = pods.pick()
                sent += 1
                if pod is None:
                    unsent += 1
                    results.append((now, 0.0, False))
                    continue
                task = asyncio.create_task(one(pod))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(0.002)
    await asyncio.gather(*tasks)
    watcher.cancel()
    return {"phase_starts": starts, "results": results, "unsent": unsent,
            "ready_seen": pods.seen}


def main(argv: list[str]) -> int:
    api, namespace, service, model, out, *spec = argv
    phases = [Phase.parse(text) for text in spec]
    report = asyncio.run(run(Pods(api, namespace, service), model, phases))
    with open(out, "w") as handle:
        json.dump(report, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

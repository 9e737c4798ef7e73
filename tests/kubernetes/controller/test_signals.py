"""Signals from pods: EndpointSlice discovery by watch, concurrent scrapes with a per-pod
timeout (a pod whose /metrics hangs), terminating pods as demand but not capacity, and the KEDA
external scaler answered through a real gRPC client. Pods here are small asyncio HTTP servers
on loopback serving a fixed exposition; test_e2e.py uses real ``ebb serve`` pods."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest

from ebb.kubernetes.controller._generated import externalscaler_pb2 as pb
from ebb.kubernetes.controller._generated import externalscaler_pb2_grpc as pb_grpc
from ebb.kubernetes.controller.api import Endpoint
from ebb.kubernetes.controller.discovery import PodDirectory
from ebb.kubernetes.controller.fake import FakeKubeApi
from ebb.kubernetes.controller.keda import METRIC_NAME, start_keda_scaler
from ebb.kubernetes.controller.observe import DesiredPods
from ebb.kubernetes.controller.sources import ClusterSource, PodScraper, ScaleView


def exposition(queue: int, inflight: int, arrivals: int, workers: int = 1) -> str:
    return (f'ebb_queue_depth{{model="sleep"}} {queue}\n'
            f'ebb_inflight_requests{{model="sleep"}} {inflight}\n'
            f'ebb_workers{{model="sleep",state="ready"}} {workers}\n'
            f'ebb_queue_admissions_total{{model="sleep"}} {arrivals}\n'
            f'ebb_inference_duration_seconds_count{{model="sleep"}} {arrivals}\n'
            f'ebb_inference_duration_seconds_sum{{model="sleep"}} {arrivals * 0.02}\n'
            f'ebb_batch_size_sum{{model="sleep"}} {arrivals}\n')


async def pod(host: str, text: str | None) -> asyncio.Server:
    """A pod's /metrics on host:0; ``None``: accept and never answer (a hung pod)."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if text is None:
            await asyncio.sleep(30)
            return
        body = text.encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, host, 0)


class Errors:
    def __init__(self) -> None:
        self.failed = 0

    def scrape_failed(self, pods: int) -> None:
        self.failed += pods


def endpoint(server: asyncio.Server, name: str, ready: bool = True,
             terminating: bool = False) -> Endpoint:
    host, port = server.sockets[0].getsockname()[:2]
    return Endpoint(host, port, ready, True, terminating, f"uid-{name}", name)


@pytest.fixture
async def pods() -> AsyncIterator[list[asyncio.Server]]:
    servers = [await pod("127.0.0.2", exposition(4, 1, 100)),
               await pod("127.0.0.3", None),
               await pod("127.0.0.4", exposition(6, 1, 50))]
    yield servers
    for server in servers:
        server.close()


async def test_a_hung_pod_is_unreported_and_a_terminating_one_is_demand_only(
        pods: list[asyncio.Server]) -> None:
    good, hung, leaving = pods
    api = FakeKubeApi(replicas={"m": 2})
    api.slices["s"] = (endpoint(good, "a"), endpoint(hung, "b"),
                       endpoint(leaving, "c", ready=False, terminating=True))
    directory = PodDirectory(api, "ns", "svc")
    await directory.start()
    errors = Errors()
    source = ClusterSource(directory, PodScraper(timeout_s=0.3), ScaleView(api, "ns", "m"),
                           0.1, None, errors)
    started = time.monotonic()
    signal = await source.read(0.0)
    assert time.monotonic() - started < 1.0
    directory.stop()
    assert errors.failed == 1
    assert signal.ready_workers == 2 and signal.unreported_workers == 1
    assert signal.queue_depth == 10 and signal.inflight == 2  # the terminating pod's too
    assert signal.current_workers == 2 and signal.starting_workers == 0


async def test_the_directory_follows_the_watch() -> None:
    api = FakeKubeApi()
    directory = PodDirectory(api, "ns", "svc")
    await directory.start()
    assert directory.endpoints() == ()
    one = Endpoint("127.0.0.2", 8080, True, True, False, "u1", "p1")
    api.set_slice("s1", (one,))
    api.set_slice("s2", (one, Endpoint("127.0.0.3", 8080, False, False, False, "u2", "p2")))
    for _ in range(100):
        if len(directory.endpoints()) == 2:
            break
        await asyncio.sleep(0.02)
    directory.stop()
    assert [e.uid for e in directory.endpoints()] == ["u1", "u2"]  # de-duplicated by uid


async def test_the_keda_external_scaler_over_grpc() -> None:
    desired = DesiredPods(0)
    server, port = await start_keda_scaler(desired, "127.0.0.1", 0)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.ExternalScalerStub(channel)
            ref = pb.ScaledObjectRef(name="m", namespace="ns", scalerMetadata={"k": "v"})
            assert not (await stub.IsActive(ref)).result
            (spec,) = (await stub.GetMetricSpec(ref)).metricSpecs
            assert (spec.metricName, spec.targetSize, spec.targetSizeFloat) == (
                METRIC_NAME, 1, 1.0)
            stream = stub.StreamIsActive(ref)
            assert not (await stream.read()).result
            started = time.monotonic()
            desired.set(3, demand=12)
            assert (await asyncio.wait_for(stream.read(), 2)).result
            assert time.monotonic() - started < 0.5  # pushed, not polled
            stream.cancel()
            request = pb.GetMetricsRequest(scaledObjectRef=ref, metricName=METRIC_NAME)
            (value,) = (await stub.GetMetrics(request)).metricValues
            assert (value.metricValue, value.metricValueFloat) == (3, 3.0)
            with pytest.raises(grpc.aio.AioRpcError) as wrong:
                await stub.GetMetrics(pb.GetMetricsRequest(scaledObjectRef=ref,
                                                           metricName="cpu"))
            assert wrong.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await server.stop(0)

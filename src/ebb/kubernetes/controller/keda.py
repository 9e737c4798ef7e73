"""KEDA's ``externalscaler.ExternalScaler`` gRPC service, answering with Ebb's desired pods.

A ScaledObject trigger ``type: external-push`` with ``scalerAddress: <controller>:<port>``
makes KEDA hold ``StreamIsActive`` open; Ebb pushes on every change of its desired count (and
every ``keepalive_s``), so KEDA re-checks at once instead of on its polling interval.
``GetMetricSpec`` says target 1 per pod and ``GetMetrics`` returns the desired pod count, so
KEDA's HPA (AverageValue) asks for exactly that many pods. ``IsActive`` is true while the
desired count or the demand is above zero (KEDA's activation, for scale from zero).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc

from ebb.kubernetes.controller._generated import externalscaler_pb2 as pb
from ebb.kubernetes.controller._generated import externalscaler_pb2_grpc as pb_grpc
from ebb.kubernetes.controller.observe import DesiredPods

log = logging.getLogger("ebb.kubernetes.controller")

METRIC_NAME = "ebb-desired-replicas"


class EbbExternalScaler(pb_grpc.ExternalScalerServicer):  # type: ignore[misc]
    def __init__(self, desired: DesiredPods, keepalive_s: float = 5.0) -> None:
        self._desired = desired
        self._keepalive_s = keepalive_s

    def _active(self) -> bool:
        return self._desired.pods > 0 or self._desired.demand > 0

    async def IsActive(self, request: pb.ScaledObjectRef,
                       context: grpc.aio.ServicerContext) -> pb.IsActiveResponse:
        return pb.IsActiveResponse(result=self._active())

    async def StreamIsActive(self, request: pb.ScaledObjectRef,
                             context: grpc.aio.ServicerContext
                             ) -> AsyncIterator[pb.IsActiveResponse]:
        log.info("KEDA streams IsActive for %s/%s", request.namespace, request.name)
        while True:
            yield pb.IsActiveResponse(result=self._active())
            await self._desired.wait_change(self._keepalive_s)

    async def GetMetricSpec(self, request: pb.ScaledObjectRef,
                            context: grpc.aio.ServicerContext) -> pb.GetMetricSpecResponse:
        spec = pb.MetricSpec(metricName=METRIC_NAME, targetSize=1, targetSizeFloat=1.0)
        return pb.GetMetricSpecResponse(metricSpecs=[spec])

    async def GetMetrics(self, request: pb.GetMetricsRequest,
                         context: grpc.aio.ServicerContext) -> pb.GetMetricsResponse:
        if request.metricName and request.metricName != METRIC_NAME:
            await context.abort(grpc.StatusCode.NOT_FOUND,
                                f"unknown metric {request.metricName!r}; this scaler serves "
                                f"{METRIC_NAME!r}")
        pods = self._desired.pods
        value = pb.MetricValue(metricName=METRIC_NAME, metricValue=pods,
                               metricValueFloat=float(pods))
        return pb.GetMetricsResponse(metricValues=[value])


async def start_keda_scaler(desired: DesiredPods, host: str, port: int) -> tuple[grpc.aio.Server,
                                                                                  int]:
    """The server, started, and the port it bound (``port`` 0: a free one)."""
    server = grpc.aio.server()
    pb_grpc.add_ExternalScalerServicer_to_server(EbbExternalScaler(desired), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind the KEDA external scaler to {host}:{port}")
    await server.start()
    return server, bound

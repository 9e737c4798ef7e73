"""Open Inference Protocol over gRPC (``inference.GRPCInferenceService``) on grpc.aio.

The servicer answers from a ``Dispatcher``; errors become gRPC statuses in ``_abort`` and nowhere
else, and every ModelInfer's status and time are recorded by ``InferRecording``. Cross-cutting
concerns (keys, rate limits) go in ``interceptors`` given to ``create_server``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import grpc

from ebb.core.dispatch import Dispatcher, RequestRecorder
from ebb.core.errors import EbbError, Unavailable
from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc
from ebb.protocol.grpc_codec import decode_model_infer_request, encode_model_infer_response
from ebb.protocol.info import ServerInfo
from ebb.protocol.recording import InferRecording

log = logging.getLogger("ebb.grpc")


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
    def __init__(self, dispatcher: Dispatcher, info: ServerInfo, recorder: RequestRecorder
                 ) -> None:
        self._dispatcher = dispatcher
        self._info = info
        self._record = InferRecording(dispatcher, recorder)

    async def ServerLive(self, request: Any, context: Any) -> Any:
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: Any) -> Any:
        ready = all(self._dispatcher.ready(name) for name in self._dispatcher.model_names())
        return pb.ServerReadyResponse(ready=ready)

    async def ServerMetadata(self, request: Any, context: Any) -> Any:
        return pb.ServerMetadataResponse(name=self._info.name, version=self._info.version,
                                         extensions=list(self._info.extensions))

    async def ModelReady(self, request: Any, context: Any) -> Any:
        try:
            return pb.ModelReadyResponse(ready=self._dispatcher.ready(request.name,
                                                                      request.version))
        except EbbError as error:
            await _abort(context, error)

    async def ModelMetadata(self, request: Any, context: Any) -> Any:
        try:
            metadata = self._dispatcher.metadata(request.name, request.version)
        except EbbError as error:
            await _abort(context, error)
        response = pb.ModelMetadataResponse(name=metadata.name, versions=list(metadata.versions),
                                            platform=metadata.platform)
        for spec in metadata.inputs:
            response.inputs.add(name=spec.name, datatype=spec.datatype, shape=spec.shape)
        for spec in metadata.outputs:
            response.outputs.add(name=spec.name, datatype=spec.datatype, shape=spec.shape)
        return response

    async def ModelInfer(self, request: Any, context: Any) -> Any:
        try:
            with self._record(request.model_name, "grpc"):
                remaining = context.time_remaining()
                decoded, raw = decode_model_infer_request(request, remaining)
                response = await self._dispatcher.infer(decoded)
                return encode_model_infer_response(response, raw)
        except Exception as error:
            await _abort(context, error)


async def _abort(context: Any, error: Exception) -> None:
    """The one place an error becomes a gRPC status; unexpected ones are logged, not shown."""
    if not isinstance(error, EbbError):
        log.error("unexpected error in a gRPC call", exc_info=error)
        await context.abort(grpc.StatusCode.INTERNAL, "internal server error")
        return
    if isinstance(error, Unavailable):
        context.set_trailing_metadata(
            (("grpc-retry-pushback-ms", str(int(error.retry_after_s * 1000))),))
    await context.abort(grpc.StatusCode[error.grpc_status], error.message)


def create_server(dispatcher: Dispatcher, info: ServerInfo, recorder: RequestRecorder,
                  max_message_bytes: int,
                  interceptors: Sequence[grpc.aio.ServerInterceptor] = ()) -> Any:
    """A grpc.aio server with the inference service; add a port and ``start`` it.

    ``interceptors`` run around every call, the first outermost (as ``grpc.aio.server`` orders
    them).
    """
    server = grpc.aio.server(interceptors=tuple(interceptors), options=[
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),
    ])
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(
        InferenceServicer(dispatcher, info, recorder), server)
    return server

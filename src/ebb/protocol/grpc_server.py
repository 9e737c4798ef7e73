"""Open Inference Protocol over gRPC (``inference.GRPCInferenceService``) on grpc.aio."""

from __future__ import annotations

import logging
import time
from typing import Any

import grpc

from ebb.core.errors import EbbError, Unavailable
from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc
from ebb.protocol.grpc_codec import decode_model_infer_request, encode_model_infer_response
from ebb.protocol.rest import ServerInfo
from ebb.serving.dispatcher import Dispatcher
from ebb.serving.stats import RequestRecorder

log = logging.getLogger("ebb.grpc")


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
    def __init__(self, dispatcher: Dispatcher, info: ServerInfo, recorder: RequestRecorder
                 ) -> None:
        self._dispatcher = dispatcher
        self._info = info
        self._recorder = recorder

    async def ServerLive(self, request: Any, context: Any) -> Any:
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: Any) -> Any:
        ready = all(self._dispatcher.ready(name) for name in self._dispatcher.models)
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
            metadata = self._dispatcher.model(request.name, request.version).metadata
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
        started = time.perf_counter()
        code = 200
        try:
            remaining = context.time_remaining()
            decoded, raw = decode_model_infer_request(request, remaining)
            response = await self._dispatcher.infer(decoded)
            return encode_model_infer_response(response, raw)
        except EbbError as error:
            code = error.http_status
            await _abort(context, error)
        except Exception:
            code = 500
            log.exception("unexpected error in ModelInfer for model %s", request.model_name)
            await context.abort(grpc.StatusCode.INTERNAL, "internal server error")
        finally:
            if request.model_name in self._dispatcher.models:
                self._recorder.request_done(request.model_name, "grpc", code,
                                            time.perf_counter() - started)


async def _abort(context: Any, error: EbbError) -> None:
    """The one place EbbError becomes a gRPC status."""
    if isinstance(error, Unavailable):
        context.set_trailing_metadata(
            (("grpc-retry-pushback-ms", str(int(error.retry_after_s * 1000))),))
    await context.abort(grpc.StatusCode[error.grpc_status], error.message)


def create_server(dispatcher: Dispatcher, info: ServerInfo, recorder: RequestRecorder,
                  max_message_bytes: int) -> Any:
    server = grpc.aio.server(options=[
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),
    ])
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(
        InferenceServicer(dispatcher, info, recorder), server)
    return server

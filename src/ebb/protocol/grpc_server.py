"""Open Inference Protocol over gRPC (``inference.GRPCInferenceService``) on grpc.aio.

The servicer answers from a ``Dispatcher``; errors become gRPC statuses in ``_abort`` and nowhere
else, and every ModelInfer's status and time are recorded by ``InferRecording``. Cross-cutting
concerns (keys, rate limits) go in ``interceptors`` given to ``create_server``.

Bytes that are not a protobuf message never reach grpc's own deserializer (which answers UNKNOWN
and logs a traceback per call): ``_lenient`` turns them into a ``Malformed`` value, answered
INVALID_ARGUMENT, and ``ClientErrorLog`` writes one line per interval about them. ModelInfer
reserves its bytes from the shared ``MemoryBudget`` while it decodes and waits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc

from ebb.core.dispatch import Dispatcher, RequestRecorder
from ebb.core.errors import EbbError, Unavailable
from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc
from ebb.protocol.budget import MemoryBudget
from ebb.protocol.errorlog import ClientErrorLog
from ebb.protocol.grpc_codec import decode_model_infer_request, encode_model_infer_response
from ebb.protocol.info import ServerInfo
from ebb.protocol.recording import InferRecording
from ebb.protocol.repository_grpc import RepositoryServicer

log = logging.getLogger("ebb.grpc")

SERVICE = "inference.GRPCInferenceService"
CLIENT_ERROR_LOG_INTERVAL_S = 10.0
_TYPED_ELEMENT_BYTES = 8


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
    def __init__(self, dispatcher: Dispatcher, info: ServerInfo, recorder: RequestRecorder,
                 budget: MemoryBudget) -> None:
        self._budget = budget
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
                reservation = self._budget.reserve(2 * _message_bytes(request))
                try:
                    remaining = context.time_remaining()
                    decoded, raw = decode_model_infer_request(request, remaining)
                    response = await self._dispatcher.infer(decoded)
                    return encode_model_infer_response(response, raw)
                finally:
                    reservation.release()
        except Exception as error:
            await _abort(context, error)


def _message_bytes(request: Any) -> int:
    """What a ModelInferRequest holds, from lengths alone (``ByteSize`` walks every element)."""
    size = sum(len(raw) for raw in request.raw_input_contents)
    for tensor in request.inputs:
        contents = tensor.contents
        size += _TYPED_ELEMENT_BYTES * (
            len(contents.fp32_contents) + len(contents.fp64_contents)
            + len(contents.int_contents) + len(contents.int64_contents)
            + len(contents.uint_contents) + len(contents.uint64_contents)
            + len(contents.bool_contents))
        size += sum(len(item) + 48 for item in contents.bytes_contents)
    return size


class Malformed:
    """What the lenient deserializer gives for bytes that are not the expected message."""

    __slots__ = ("detail",)

    def __init__(self, detail: str) -> None:
        self.detail = detail


def _lenient(message_type: Any) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return message_type.FromString(data)
        except Exception as error:
            return Malformed(f"{message_type.__name__}: {error}")

    return deserialize


Handler = Callable[[Any, Any], Awaitable[Any]]


def _refusing_malformed(method: Handler, client_errors: ClientErrorLog) -> Handler:
    async def handle(request: Any, context: Any) -> Any:
        if isinstance(request, Malformed):
            client_errors.note("malformed protobuf", request.detail)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"the request is not a valid protobuf message "
                                f"({request.detail})")
        return await method(request, context)

    return handle


def _extension(extensions: RepositoryServicer | None, name: str) -> Handler:
    """An extension RPC (repository, statistics, config), its errors mapped by ``_abort``."""
    method: Handler | None = getattr(extensions, name, None)

    async def handle(request: Any, context: Any) -> Any:
        if method is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{name} is not served here")
            return None
        try:
            return await method(request, context)
        except Exception as error:
            await _abort(context, error)

    return handle


def method_handlers(servicer: InferenceServicer, client_errors: ClientErrorLog,
                    extensions: RepositoryServicer | None = None
                    ) -> dict[str, grpc.RpcMethodHandler]:
    """Every method of the service, each with a deserializer that cannot raise."""
    handlers = {}
    for method in pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].methods:
        request_type = getattr(pb, method.input_type.name)
        response_type = getattr(pb, method.output_type.name)
        own = method.name in InferenceServicer.__dict__
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            _refusing_malformed(getattr(servicer, method.name) if own
                                else _extension(extensions, method.name), client_errors),
            request_deserializer=_lenient(request_type),
            response_serializer=response_type.SerializeToString)
    return handlers


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
                  interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
                  budget: MemoryBudget | None = None,
                  options: Sequence[tuple[str, int]] = (),
                  extensions: RepositoryServicer | None = None) -> Any:
    """A grpc.aio server with the inference service; add a port and ``start`` it.

    ``interceptors`` run around every call, the first outermost (as ``grpc.aio.server`` orders
    them). ``budget`` bounds request bytes in flight (share the REST app's; None: no bound).
    ``options``: more grpc channel arguments (connection limits and timeouts).
    ``extensions``: the repository, statistics and config RPCs (None: UNIMPLEMENTED).
    """
    server = grpc.aio.server(interceptors=tuple(interceptors), options=[
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),
        *options,
    ])
    servicer = InferenceServicer(dispatcher, info, recorder,
                                 budget if budget is not None else MemoryBudget(1 << 62))
    client_errors = ClientErrorLog(log, CLIENT_ERROR_LOG_INTERVAL_S, time.monotonic)
    handlers = method_handlers(servicer, client_errors, extensions)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)
    return server

"""Open Inference Protocol over HTTP, as a bare ASGI app.

A framework router would cost more per request than the rest of the path together; the route
table here is a few string splits. Everything is decoded by ``codec`` and answered by a
``Dispatcher``; errors are mapped in ``_error_response`` and nowhere else, and every infer call's
status and time are recorded by ``InferRecording``. Wrap the app with
``ebb.protocol.asgi.apply_middleware``.

An infer call reserves its bytes from the ``MemoryBudget`` before its body is read (JSON counted
at its parsing cost), gives the parsing share back once decoded, and does not keep the body
while it waits for the model.
"""

from __future__ import annotations

import contextlib
import logging
import math
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import numpy as np

from ebb.core.datatypes import numpy_dtype
from ebb.core.dispatch import Dispatcher, RequestRecorder
from ebb.core.errors import EbbError, InvalidInput, PayloadTooLarge, Unavailable
from ebb.core.types import InferRequest, RequestedOutput, Tensor
from ebb.protocol.asgi import Receive, Scope, Send
from ebb.protocol.budget import JSON_EXPANSION, MemoryBudget, Reservation
from ebb.protocol.codec import decode_infer_request, dumps, encode_error, encode_infer_response
from ebb.protocol.info import ServerInfo
from ebb.protocol.limits import MAX_DIMS, count_header
from ebb.protocol.recording import InferRecording
from ebb.protocol.repository_routes import MethodNotAllowed, RepositoryRoutes

log = logging.getLogger("ebb.rest")

Page = Callable[[Scope], Awaitable[tuple[int, bytes, bytes]]]
"""An extra GET route: returns (status, content type, body)."""
Answer = tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]
"""(status, content type, body, extra headers)."""

_JSON = b"application/json"
_OCTETS = b"application/octet-stream"
_TIMEOUT_HEADER = b"ebb-timeout-ms"
_ALLOW_GET = [(b"allow", b"GET, HEAD")]
_ALLOW_POST = [(b"allow", b"POST")]


class ClientGone(EbbError):
    """The client closed the connection before its body arrived (nginx's 499); nobody reads
    the answer, the status is for the metrics."""

    http_status = 499
    grpc_status = "CANCELLED"


class RestApp:
    """The Open Inference Protocol (and KServe V1) as an ASGI app over a ``Dispatcher``.

    ``pages`` are extra GET routes (``/metrics``, ``/dashboard``) served beside the protocol.
    ``budget`` bounds request bytes in flight across all calls (None: no bound).
    """

    def __init__(self, dispatcher: Dispatcher, info: ServerInfo, recorder: RequestRecorder,
                 max_body_bytes: int, pages: Mapping[str, Page],
                 budget: MemoryBudget | None = None,
                 repository: RepositoryRoutes | None = None) -> None:
        self._budget = budget if budget is not None else MemoryBudget(1 << 62)
        self._repository = repository
        self._dispatcher = dispatcher
        self._info = info
        self._record = InferRecording(dispatcher, recorder)
        self._max_body = max_body_bytes
        self._pages = dict(pages)
        self._server_metadata = dumps({"name": info.name, "version": info.version,
                                       "extensions": list(info.extensions)})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        try:
            if self._repository is not None and self._repository.matches(path):
                await self._repository(scope, receive, send)
            elif path.startswith("/v2/models/"):
                await self._v2_model(scope, receive, send, path[11:].split("/"), method)
            elif path.startswith("/v1/models/"):
                await self._v1_model(scope, receive, send, path[11:], method)
            elif method not in ("GET", "HEAD"):
                if self._known(path):
                    await _send(send, 405, encode_error(f"{method} {path} is not supported"),
                                extra=_ALLOW_GET)
                else:
                    await _send(send, 404, encode_error(f"no route {path}"))
            elif path in ("/v2", "/v2/"):
                await _send(send, 200, self._server_metadata)
            elif path == "/v2/health/live":
                await _send(send, 200, dumps({"live": True}))
            elif path == "/v2/health/ready":
                ready = all(self._dispatcher.ready(name)
                            for name in self._dispatcher.model_names())
                await _send(send, 200 if ready else 503, dumps({"ready": ready}))
            elif path in self._pages:
                status, content_type, body = await self._pages[path](scope)
                await _send(send, status, body, content_type)
            else:
                await _send(send, 404, encode_error(f"no route {path}"))
        except Exception as error:
            await _error_response(send, error, scope)

    @property
    def max_body_bytes(self) -> int:
        return self._max_body

    def _known(self, path: str) -> bool:
        return path in ("/v2", "/v2/", "/v2/health/live", "/v2/health/ready") or path in self._pages

    async def _v2_model(self, scope: Scope, receive: Receive, send: Send, parts: list[str],
                        method: str) -> None:
        name = parts[0]
        version = ""
        rest = parts[1:]
        if len(rest) >= 2 and rest[0] == "versions":
            version, rest = rest[1], rest[2:]
        action = rest[0] if rest else ""
        if len(rest) > 1 or action not in ("", "ready", "infer") or not name:
            await _send(send, 404, encode_error(f"no route {scope['path']}"))
            return
        if action == "infer":
            if method != "POST":
                await _send(send, 405, encode_error("infer takes POST"), extra=_ALLOW_POST)
                return
            await self._infer(scope, receive, send, name, version)
            return
        if method not in ("GET", "HEAD"):
            await _send(send, 405, encode_error(f"{scope['path']} takes GET"), extra=_ALLOW_GET)
            return
        metadata = self._dispatcher.metadata(name, version)
        if action == "ready":
            ready = self._dispatcher.ready(name, version)
            await _send(send, 200 if ready else 503, dumps({"name": name, "ready": ready}))
        else:
            await _send(send, 200, dumps(metadata.to_json()))

    async def _infer(self, scope: Scope, receive: Receive, send: Send, name: str,
                     version: str) -> None:
        with self._record(name, "rest"):
            if name not in self._dispatcher.model_names():
                self._dispatcher.metadata(name)  # raises the 404 before the body is read
            header_length: int | None = None
            timeout_s: float | None = None
            content_length: int | None = None
            encoding = b""
            for key, value in scope["headers"]:
                if key == b"content-encoding":
                    encoding = value.strip().lower()
                elif key == b"inference-header-content-length":
                    header_length = count_header("Inference-Header-Content-Length", value)
                elif key == b"content-length":
                    content_length = count_header("Content-Length", value)
                elif key == _TIMEOUT_HEADER:
                    timeout_s = count_header("Ebb-Timeout-Ms", value) / 1000 or None
            if content_length is not None and content_length > self._max_body:
                raise PayloadTooLarge(f"request body of {content_length} bytes is over the "
                                      f"{self._max_body}-byte limit")
            size = content_length or 0
            reservation = self._budget.reserve(size + JSON_EXPANSION * min(
                size, size if header_length is None else header_length))
            try:
                request = await self._read_request(receive, name, version, header_length,
                                                   encoding, reservation)
                payload, json_length = await self._run(request, timeout_s)
            finally:
                reservation.release()
            content_type, extra = _content_of(json_length)
            await _send(send, 200, payload, content_type, extra)

    async def answer_infer(self, name: str, version: str, body: bytes,
                           timeout_header: bytes | None) -> Answer:
        """An infer call whose JSON body is already read, answered as (status, content type,
        body, extra headers): the fast front's path (``ebb.app.fast_infer``), which takes only
        small identity-encoded JSON bodies and leaves everything else to the ASGI app. Same
        checks, recording and errors as ``_infer``."""
        try:
            with self._record(name, "rest"):
                if name not in self._dispatcher.model_names():
                    self._dispatcher.metadata(name)  # raises the 404
                timeout_s = None if timeout_header is None else count_header(
                    "Ebb-Timeout-Ms", timeout_header) / 1000
                reservation = self._budget.reserve(len(body) * (1 + JSON_EXPANSION))
                try:
                    request = decode_infer_request(name, version, body, None)
                    reservation.shrink_to(len(body))
                    payload, json_length = await self._run(request, timeout_s)
                finally:
                    reservation.release()
        except Exception as error:
            status, message, extra = error_answer(error, "POST", f"/v2/models/{name}/infer")
            return status, _JSON, message, extra
        content_type, extra = _content_of(json_length)
        return 200, content_type, payload, extra

    def record_abandoned(self, name: str) -> None:
        """A fast-path call whose client left before its body was complete: recorded 499, as
        ``_infer`` records it when the body never arrives."""
        with contextlib.suppress(ClientGone), self._record(name, "rest"):
            raise ClientGone("the client closed the connection before sending its body")

    async def _run(self, request: InferRequest, timeout_s: float | None
                   ) -> tuple[bytes, int | None]:
        """Infer (with the client's ``Ebb-Timeout-Ms`` when it gave one) and encode."""
        if timeout_s:
            request = _with_timeout(request, timeout_s)
        response = await self._dispatcher.infer(request)
        return encode_infer_response(response, request)

    async def _read_request(self, receive: Receive, name: str, version: str,
                            header_length: int | None, encoding: bytes,
                            reservation: Reservation) -> InferRequest:
        """Read and decode the body, holding its parsing cost only while it is parsed."""
        body = await _read_body(receive, self._max_body, reservation)
        if encoding not in (b"", b"identity"):
            body = _decompress(body, encoding, self._max_body)
        json_length = len(body) if header_length is None else min(header_length, len(body))
        reservation.grow(max(0, len(body) + JSON_EXPANSION * json_length - reservation.size))
        request = decode_infer_request(name, version, body, header_length)
        reservation.shrink_to(len(body))
        return request

    async def _v1_model(self, scope: Scope, receive: Receive, send: Send, tail: str,
                        method: str) -> None:
        """KServe V1: ``GET /v1/models/{m}`` and ``POST /v1/models/{m}:predict``."""
        if tail.endswith(":predict"):
            if method != "POST":
                await _send(send, 405, encode_error("predict takes POST"), extra=_ALLOW_POST)
                return
            await self._v1_predict(scope, receive, send, tail.removesuffix(":predict"))
            return
        if method not in ("GET", "HEAD"):
            await _send(send, 405, encode_error(f"{scope['path']} takes GET"), extra=_ALLOW_GET)
            return
        await _send(send, 200, dumps({"name": tail, "ready": self._dispatcher.ready(tail)}))

    async def _v1_predict(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        with self._record(name, "rest_v1"):
            metadata = self._dispatcher.metadata(name)
            if len(metadata.inputs) != 1:
                raise InvalidInput(f"model {name!r} has {len(metadata.inputs)} inputs; "
                                   "the V1 protocol carries one, use /v2 instead")
            spec = metadata.inputs[0]
            reservation = self._budget.reserve(0)
            try:
                body = await _read_body(receive, self._max_body, reservation)
                reservation.grow(JSON_EXPANSION * len(body))
                data = _v1_array(_v1_instances(body), spec.datatype)
                del body
                reservation.shrink_to(data.nbytes)
                # As KServe's servers: a plain list, one prediction per instance, from the
                # model's first output (scikit-learn's "predict"), never objects.
                request = InferRequest(name, (Tensor(spec.name, spec.datatype, data),),
                                       outputs=(RequestedOutput(metadata.outputs[0].name),))
                response = await self._dispatcher.infer(request)
            finally:
                reservation.release()
            predictions: Any = response.outputs[0].data.tolist()
            await _send(send, 200, dumps({"predictions": predictions}))


def _content_of(json_length: int | None) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """Content type and extra headers of an infer answer: JSON, or JSON + binary tensors."""
    if json_length is None:
        return _JSON, []
    return _OCTETS, [(b"inference-header-content-length", str(json_length).encode())]


def _v1_instances(body: bytes) -> list[Any]:
    import orjson

    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"malformed JSON in request body: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("instances"), list):
        raise InvalidInput("V1 predict needs a JSON object with an 'instances' list")
    instances: list[Any] = document["instances"]
    if not instances:
        raise InvalidInput("'instances' is empty")
    return instances


def _v1_array(instances: list[Any], datatype: str) -> np.ndarray:
    dtype = numpy_dtype(datatype)
    try:
        data = np.asarray(instances, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as error:
        raise InvalidInput(f"instances are not valid {datatype}: {error}") from None
    if data.ndim > MAX_DIMS:
        raise InvalidInput(f"instances are nested more than {MAX_DIMS} deep")
    if dtype.kind == "f" and not np.isfinite(data).all():
        raise InvalidInput(f"instances must be finite {datatype} numbers (null, or a value "
                           f"beyond {datatype}'s range, was given)")
    return data


def _decompress(body: bytes, encoding: bytes, limit: int) -> bytes:
    """Undo ``Content-Encoding: gzip | deflate`` (tritonclient's request compression)."""
    if encoding == b"gzip":
        decoder = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    elif encoding == b"deflate":
        decoder = zlib.decompressobj()
    else:
        raise InvalidInput(f"Content-Encoding {encoding.decode(errors='replace')!r} is not "
                           "supported; use gzip, deflate or none")
    try:
        plain = decoder.decompress(body, limit + 1)
    except zlib.error as error:
        raise InvalidInput(f"body is not valid {encoding.decode()} data: {error}") from None
    if len(plain) > limit:
        raise PayloadTooLarge(f"decompressed request body is over the {limit}-byte limit")
    return plain


def _with_timeout(request: InferRequest, timeout_s: float) -> InferRequest:
    return InferRequest(request.model_name, request.inputs, request.model_version, request.id,
                        request.parameters, request.outputs, timeout_s)


async def _read_body(receive: Receive, limit: int, reservation: Reservation) -> bytes:
    """The whole body; bytes beyond what ``reservation`` holds (no Content-Length) are
    reserved as they arrive."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if message["type"] == "http.disconnect":
            raise ClientGone("the client closed the connection before sending its body")
        if len(body) > limit:
            raise PayloadTooLarge(f"request body is over the {limit}-byte limit")
        if len(body) > reservation.size:
            reservation.grow(len(body) - reservation.size)
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone("the client closed the connection before sending its body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is over the {limit}-byte limit")
        if size > reservation.size:
            reservation.grow(size - reservation.size)
        chunks.append(chunk)
    return b"".join(chunks)


async def _error_response(send: Send, error: Exception, scope: Scope) -> None:
    status, body, extra = error_answer(error, scope["method"], scope["path"])
    await _send(send, status, body, extra=extra)


def error_answer(error: Exception, method: str, path: str
                 ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """The one place an error becomes an HTTP answer (status, JSON body, extra headers);
    unexpected ones are logged, not shown."""
    if not isinstance(error, EbbError):
        log.error("unexpected error answering %s %s", method, path, exc_info=error)
        return 500, encode_error("internal server error"), []
    extra = []
    if isinstance(error, Unavailable):
        extra.append((b"retry-after", str(max(1, math.ceil(error.retry_after_s))).encode()))
    elif isinstance(error, MethodNotAllowed):
        extra.append((b"allow", error.allow.encode()))
    return error.http_status, encode_error(error.message), extra


async def _send(send: Send, status: int, body: bytes, content_type: bytes = _JSON,
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

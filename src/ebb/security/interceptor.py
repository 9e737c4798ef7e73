"""The gate as a ``grpc.aio.ServerInterceptor``.

An interceptor sees the method and the metadata, not the request. So the key and its role are
checked here, before the request is even parsed (a refusal's handler takes raw bytes), and the
model check and the rate limit run in a thin wrapper around the method's behaviour, where the
request (``model_name`` or ``name``) and the peer address are visible.

    server = create_server(..., interceptors=[GateInterceptor(gate)])

Refusals are UNAUTHENTICATED, PERMISSION_DENIED or RESOURCE_EXHAUSTED (with
``grpc-retry-pushback-ms``); the ``authorization`` metadata is never echoed.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc

from ebb.core.caller import set_principal
from ebb.security.gate import FORBIDDEN, RATE_LIMITED, UNAUTHENTICATED, Denial, Gate
from ebb.security.keys import ApiKey
from ebb.security.policy import Action, action_for_grpc, is_inference_grpc

_CODES = {UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
          FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
          RATE_LIMITED: grpc.StatusCode.RESOURCE_EXHAUSTED}
_MALFORMED = "the authorization metadata must be 'Bearer <key>'"
_KINDS = (("unary_unary", grpc.unary_unary_rpc_method_handler),
          ("unary_stream", grpc.unary_stream_rpc_method_handler),
          ("stream_unary", grpc.stream_unary_rpc_method_handler),
          ("stream_stream", grpc.stream_stream_rpc_method_handler))


class GateInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, gate: Gate) -> None:
        self._gate = gate

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                details: Any) -> Any:
        action = action_for_grpc(details.method)
        handler = await continuation(details)
        if handler is None or action is Action.OPEN or not self._gate.enabled:
            return handler
        inference = is_inference_grpc(details.method)
        key: ApiKey | None = None
        if self._gate.ring is not None:
            authorization = _authorization(details.invocation_metadata or ())
            found = (Denial(UNAUTHENTICATED, _MALFORMED) if authorization is None
                     else await self._gate.identify(authorization or None))
            denial = found if isinstance(found, Denial) else self._gate.allowed(found, action,
                                                                                 None)
            if denial is not None:
                self._gate.record(denial, "grpc")
                logged = (self._gate, found if isinstance(found, ApiKey) else None)
                return _refusal(handler, denial, logged if inference else None)
            key = found if isinstance(found, ApiKey) else None
        if handler.unary_unary is None:
            return handler  # the service has no streaming methods; no model to check here
        return _guarded(handler, self._gate, key, action, inference)


def _guarded(handler: Any, gate: Gate, key: ApiKey | None, action: Action,
             inference: bool) -> Any:
    """The handler, with the model check and the rate limit in front of its behaviour."""
    behaviour = handler.unary_unary

    async def checked(request: Any, context: Any) -> Any:
        model = _model_of(request)
        denial = gate.admit(key, action, model, _peer_host(context.peer()))
        if denial is not None:
            gate.record(denial, "grpc")
            if inference:
                gate.refused(denial, "grpc", model, key)
            await _abort(context, denial)
        if key is not None:
            set_principal(key.id)  # this RPC's task: the inference log reads it
        answer = behaviour(request, context)
        return await answer if inspect.isawaitable(answer) else answer

    return grpc.unary_unary_rpc_method_handler(
        checked, request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer)


def _refusal(handler: Any, denial: Denial, logged: tuple[Gate, ApiKey | None] | None) -> Any:
    """A handler of the same kind that only refuses, without parsing the request; for an
    inference (``logged``: the gate and the key, if one matched) it tells the gate's refusal
    hooks, with the model named in the request's first bytes."""

    async def refuse(request: Any, context: Any) -> None:
        if logged is not None:
            gate, key = logged
            model = peek_model_name(request) if isinstance(request, bytes) else None
            gate.refused(denial, "grpc", model, key)
        await _abort(context, denial)

    for attribute, make in _KINDS:
        if getattr(handler, attribute) is not None:
            return make(refuse)
    return None


async def _abort(context: Any, denial: Denial) -> None:
    if denial.reason == RATE_LIMITED:
        context.set_trailing_metadata(
            (("grpc-retry-pushback-ms", str(max(1, int(denial.retry_after_s * 1000)))),))
    await context.abort(_CODES[denial.reason], denial.message)


def _authorization(metadata: Sequence[Any]) -> str | None:
    """The metadata's value ("" when absent); None when it appears twice or is binary."""
    values = [value for name, value in metadata if name == "authorization"]
    if not values:
        return ""
    if len(values) > 1 or not isinstance(values[0], str):
        return None
    return str(values[0])


MAX_PEEKED_NAME = 256


def peek_model_name(raw: bytes) -> str | None:
    """The ``model_name`` of a serialized ``ModelInferRequest`` when it is the first field (field
    1, as every protobuf encoder writes it), read without parsing the rest of a request whose
    sender is not trusted; None otherwise."""
    if raw[:1] != b"\x0a":
        return None
    length, shift, index = 0, 0, 1
    while index < min(len(raw), 3):  # a name of up to 16383 bytes: a two-byte length
        byte = raw[index]
        length |= (byte & 0x7F) << shift
        index += 1
        if not byte & 0x80:
            break
        shift += 7
    else:
        return None
    name = raw[index:index + length]
    if len(name) != length or length > MAX_PEEKED_NAME:
        return None
    try:
        return name.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _model_of(request: Any) -> str | None:
    for field in ("model_name", "name"):
        if field in request.DESCRIPTOR.fields_by_name:
            return str(getattr(request, field))
    return None


def _peer_host(peer: str) -> str:
    """``ipv4:10.0.0.7:5123`` -> ``10.0.0.7``; ``ipv6:[::1]:5123`` -> ``::1``."""
    _, _, address = peer.partition(":")
    if address.startswith("["):
        return address[1:].partition("]")[0]
    return address.rpartition(":")[0] or address

"""Who is asking, and over which protocol, for the request being handled: two context variables.

The protocol adapters set the protocol where a request enters; the auth gate sets the key id
once it has verified a key; the dispatcher reads both into its ``InferenceRecord``. asyncio runs
each request in its own task with its own copy of the context, so a value never leaks from one
request to another, and the layers in between pass nothing along.

    set_protocol("grpc")
    set_principal("ci-bot")
    protocol(), principal()     # ("grpc", "ci-bot"), in this task and the tasks it starts

Outside a request (a test calling a dispatcher directly) the protocol is "" and the principal
None.
"""

from __future__ import annotations

from contextvars import ContextVar

PROTOCOLS = ("rest", "rest_v1", "grpc")
"""The protocols the adapters set."""

_PROTOCOL: ContextVar[str] = ContextVar("ebb_protocol", default="")
_PRINCIPAL: ContextVar[str | None] = ContextVar("ebb_principal", default=None)


def set_protocol(name: str) -> None:
    _PROTOCOL.set(name)


def set_principal(key_id: str | None) -> None:
    """The id of the API key that authenticated this request (None: keys are off)."""
    _PRINCIPAL.set(key_id)


def protocol() -> str:
    return _PROTOCOL.get()


def principal() -> str | None:
    return _PRINCIPAL.get()

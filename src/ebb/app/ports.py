"""Binding the HTTP and gRPC ports before anything listens.

A port the user chose is never changed (a clash is one line naming the port and the reason);
an unset port tries KServe's default and falls back to a free one, with a note saying so. Both
are bound before any worker loads the model, so a clash costs no model load; the HTTP socket
listens only once the server serves (asyncio's ``create_server`` calls ``listen``).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from ebb.config import DEFAULT_GRPC_PORT


@dataclass(frozen=True)
class BoundPorts:
    http: int
    grpc: int
    notes: tuple[str, ...]
    """Messages about ports that were taken and replaced."""


def bind_port(host: str, port: int | None, default: int, label: str) -> tuple[socket.socket, str]:
    """Bind the chosen port, or the default, or a free one when the default is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    note = ""
    try:
        sock.bind((host, default if port is None else port))
    except OSError as error:
        if port is not None:
            sock.close()
            raise OSError(f"cannot bind {label} port {port} on {host}: {error.strerror}") from None
        sock.bind((host, 0))
        note = (f"{label} port {default} is in use; using {sock.getsockname()[1]} instead "
                f"(choose one with --{label.lower()}-port)")
    sock.setblocking(False)
    return sock, note


def _probe(host: str, port: int) -> str | None:
    """Why ``port`` cannot be bound on ``host`` (None: it can). Asked with a plain socket
    first, because grpc core prints its own error line on a failed bind and gives no reason."""
    if port == 0:
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def bind_grpc(server: Any, host: str, port: int | None, credentials: Any) -> tuple[int, str]:
    """Add the gRPC listening port to a grpc.aio server, with the same fallback rule.

    `credentials`: grpc.ServerCredentials for TLS, or None for plain text.
    """
    address = f"[{host}]" if ":" in host else host
    wanted = DEFAULT_GRPC_PORT if port is None else port

    def add(target: str) -> int:
        if credentials is None:
            return int(server.add_insecure_port(target))
        return int(server.add_secure_port(target, credentials))

    reason = _probe(host, wanted)
    bound = 0
    if reason is None:
        try:
            bound = add(f"{address}:{wanted}")
        except RuntimeError as error:
            reason = str(error)
    if bound:
        return bound, ""
    if port is not None:
        raise OSError(f"cannot bind gRPC port {port} on {host}: {reason or 'refused by grpc'}")
    bound = add(f"{address}:0")
    return bound, (f"gRPC port {DEFAULT_GRPC_PORT} is in use; using {bound} instead "
                   "(choose one with --grpc-port)")

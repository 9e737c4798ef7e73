"""What the server says about itself, shared by the REST and gRPC adapters (which never import
each other)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerInfo:
    """Server metadata as both protocols report it (``GET /v2``, ``ServerMetadata``)."""

    name: str
    version: str
    extensions: tuple[str, ...] = ("binary_tensor_data", "parameters")

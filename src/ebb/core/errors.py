"""The one exception tree. Each class names the HTTP and gRPC status it maps to.

    EbbError                 500  INTERNAL
    ├── InvalidInput         400  INVALID_ARGUMENT
    ├── ModelNotFound        404  NOT_FOUND
    ├── PayloadTooLarge      413  RESOURCE_EXHAUSTED
    ├── Unavailable          503  UNAVAILABLE         (server overloaded, model not ready)
    ├── DeadlineExceeded     504  DEADLINE_EXCEEDED
    └── ModelError           500  INTERNAL            (the model itself raised)

The protocol adapters translate these in exactly one place each; the gRPC code is kept as a name
so that this module needs no grpc import.
"""

from __future__ import annotations


class EbbError(Exception):
    http_status = 500
    grpc_status = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(EbbError):
    http_status = 400
    grpc_status = "INVALID_ARGUMENT"


class ModelNotFound(EbbError):
    http_status = 404
    grpc_status = "NOT_FOUND"


class PayloadTooLarge(EbbError):
    http_status = 413
    grpc_status = "RESOURCE_EXHAUSTED"


class Unavailable(EbbError):
    """The server cannot take the request now; clients should retry after ``retry_after_s``."""

    http_status = 503
    grpc_status = "UNAVAILABLE"

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DeadlineExceeded(EbbError):
    http_status = 504
    grpc_status = "DEADLINE_EXCEEDED"


class ModelError(EbbError):
    """The model raised while running a batch; the server keeps serving."""

"""The server's log: one handler on stderr, as text or one JSON object per line.

Third-party libraries log at WARNING and above only (httpx, for one, logs every OTLP push at
INFO), so a normal run shows Ebb's own lines: start-up, model loads, workers, autoscaling
decisions, errors with their tracebacks, and the access log when asked.

    configure_logging("info", "json")
    log.info("model %s loaded in %.2f s", name, seconds, extra={"fields": {"model": name}})

``extra={"fields": {...}}`` adds structured fields: JSON lines carry them as keys, text lines
ignore them (the message already says it).
"""

from __future__ import annotations

import datetime
import logging
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from ebb.app.ports import BoundPorts
from ebb.core.types import ModelMetadata

QUIET_LIBRARIES = ("httpx", "httpcore", "grpc", "urllib3", "kubernetes", "asyncio",
                   "uvicorn", "multipart", "matplotlib", "PIL")
"""Loggers held at WARNING: their INFO lines are about their own workings, not the server's."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, any
    ``fields`` given as ``extra``, and ``exception`` with the traceback text."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        document: dict[str, Any] = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            document.update(fields)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exception"] = record.exc_text
        return orjson.dumps(document, default=str).decode()


def configure_logging(level: str, log_format: str = "text") -> None:
    """Replace the root handlers with one on stderr in ``log_format`` ("text" or "json")."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    quiet = logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING  # debug: all
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(quiet)


def log_started(models: Sequence[ModelMetadata], ports: BoundPorts, seconds: float) -> None:
    """The start-up line: what serves where, and how long loading and warming up took."""
    names = ", ".join(f"{meta.name} v{meta.version}" for meta in models)
    logging.getLogger("ebb.app").info(
        "serving %s on HTTP port %d and gRPC port %d (started in %.2f s)", names, ports.http,
        ports.grpc, seconds, extra={"fields": {"models": [meta.name for meta in models],
                                               "http_port": ports.http,
                                               "grpc_port": ports.grpc,
                                               "startup_s": round(seconds, 3)}})

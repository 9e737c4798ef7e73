"""``open_inference_log``: what ``EbbServer`` calls; None when ``--inference-log`` is not set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from ebb.inference_log.store import open_store
from ebb.inference_log.url import DatabaseUrl, parse_database_url
from ebb.inference_log.writer import InferenceLog, LogOptions
from ebb.metrics.inference_log import InferenceLogCollector
from ebb.security.gate import Gate, Refusal

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from ebb.config import ServeSettings


def open_inference_log(settings: ServeSettings, registry: CollectorRegistry,
                       gate: Gate | None = None) -> InferenceLog | None:
    """The log for these settings, its counters registered and, given the auth ``gate``, the
    inferences it refuses logged too; ValueError for a SQLite file whose directory does not
    exist (a typo to report at start, not an outage to ride out)."""
    if settings.inference_log is None:
        return None
    url = parse_database_url(settings.inference_log)
    if url.engine == "sqlite" and not Path(url.target).resolve().parent.is_dir():
        raise ValueError(f"--inference-log: directory {Path(url.target).parent} does not exist")
    options = LogOptions(settings.inference_log_payloads, settings.inference_log_sample,
                         settings.inference_log_buffer, settings.inference_log_retention_days)
    inference_log = InferenceLog(open_store(url), options, shown(url))
    registry.register(InferenceLogCollector(inference_log.counts))
    if gate is not None:
        gate.refusal_hooks.append(refusal_hook(inference_log))
    return inference_log


def refusal_hook(inference_log: InferenceLog) -> Callable[[Refusal], None]:
    def log_refusal(refusal: Refusal) -> None:
        inference_log.refused(refusal.model, refusal.status, refusal.message, refusal.protocol,
                              refusal.key_id)

    return log_refusal


def shown(url: DatabaseUrl) -> str:
    """The URL for log lines, without a password."""
    if url.engine == "sqlite":
        return str(url)
    parts = urlsplit(url.target)
    if parts.password is None:
        return url.target
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))

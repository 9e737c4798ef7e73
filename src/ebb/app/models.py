"""One served model from settings: its queue, batching rule and (not yet started) workers."""

from __future__ import annotations

from typing import Any

from ebb.app.observers import Observer
from ebb.config import ServeSettings
from ebb.core.types import ModelMetadata
from ebb.runtime.base import ModelSource
from ebb.serving.batching import BatchPolicy
from ebb.serving.dispatcher import ServedModel


def serve_model(settings: ServeSettings, source: ModelSource, metadata: ModelMetadata,
                observer: Observer, context: Any) -> ServedModel:
    """One model's queue, batching rule and (not yet started) worker pool."""
    batch_limit = min(settings.max_batch_size, metadata.max_batch_size) or 1
    policy = BatchPolicy(batch_limit, settings.max_batch_delay_ms / 1000)
    return ServedModel.create(
        source, metadata, policy, settings.max_queue_size,
        default_timeout_s=settings.request_timeout_ms / 1000 or None,
        scale_from_zero=settings.autoscaling and (settings.min_workers or 0) == 0,
        observer=observer, context=context, max_batch_runtime_s=settings.max_batch_runtime_s,
        # Starting with no worker (scale from zero), the first request pays the cold start
        # anyway: a warm-up at start-up would only start a worker nobody asked for.
        warmed=settings.initial_workers == 0)

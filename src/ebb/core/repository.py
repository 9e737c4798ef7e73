"""The model-repository seam the protocol adapters call: index, load, unload, statistics, config.

REST and gRPC hold a ``Repository`` beside their ``Dispatcher`` and answer the Open Inference
Protocol's repository, statistics and model-configuration extensions from it; ``ebb.repository``
provides the real one. The values here are protocol-neutral: each adapter encodes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ebb.core.types import TensorSpec

READY = "READY"
UNAVAILABLE = "UNAVAILABLE"
LOADING = "LOADING"
UNLOADING = "UNLOADING"


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One row of the repository index: a model version (or a model not loaded: no version)."""

    name: str
    version: str
    state: str
    """READY, UNAVAILABLE, LOADING or UNLOADING (Triton's words)."""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Duration:
    """How many times something happened and how long it took in total (Triton's pair)."""

    count: int = 0
    ns: int = 0


@dataclass(frozen=True, slots=True)
class BatchStatistics:
    """Batches of one size (rows) a version ran, and the worker time they took (Triton's
    ``batch_stats``; input and output are not timed apart)."""

    batch_size: int
    compute_infer: Duration


@dataclass(frozen=True, slots=True)
class VersionStatistics:
    """What a model version did since it was loaded, as Triton's statistics extension says it.

    ``success`` and ``fail`` time whole requests; ``queue`` the wait for a worker;
    ``compute_infer`` the worker's batch time, counted per request (a request shares its batch's
    time); ``compute_input``/``compute_output`` are not measured apart and stay zero.
    """

    name: str
    version: str
    last_inference_ms: int
    inference_count: int
    execution_count: int
    success: Duration
    fail: Duration
    queue: Duration
    compute_infer: Duration
    batches: tuple[BatchStatistics, ...] = ()
    """By batch size, smallest first."""


@dataclass(frozen=True, slots=True)
class ModelConfiguration:
    """A served model version's configuration, the subset of Triton's ``ModelConfig`` Ebb has."""

    name: str
    platform: str
    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    version_policy: tuple[str, tuple[str, ...]]
    """("all", ()), ("latest", (N,)) or ("specific", (v1, v2, ...))."""
    max_queue_delay_us: int
    instance_count: int


class Repository(Protocol):
    """What the protocol adapters need for the repository, statistics and config extensions.

    ``load``/``unload`` raise ``ModelNotFound`` for a name the repository does not hold and
    ``EbbError``s for what failed; ``statistics``/``config`` raise ``ModelNotFound``.
    """

    def index(self, ready_only: bool) -> list[IndexEntry]: ...

    async def load(self, name: str) -> None: ...

    async def unload(self, name: str) -> None: ...

    def statistics(self, name: str, version: str) -> list[VersionStatistics]:
        """Every loaded model version when ``name`` is empty; else that model's (version)."""
        ...

    def config(self, name: str, version: str) -> ModelConfiguration: ...

"""Readiness means the model can answer: one warm-up inference per model before it is ready.

A worker that loaded its model may still fail its first inference (a missing kernel, a lazy
initialisation that runs out of memory: kserve/kserve#2882). So a served model counts as ready
only after one inference built from its metadata went through the normal path (validation,
queue, batching, a worker) and was answered: zeros of the declared shape with a batch of one,
BYTES inputs as empty strings. Dynamic dimensions beyond the batch one are guessed as 1; a
model that raises on such a guess has still answered, so it counts as warmed, with a note. A
failed warm-up is logged and retried with a growing pause; it never stops the server. It is real
work, so the queue counts it (``ebb_queue_admissions_total``, completions), but it is no client
request: not in ``ebb_requests_total`` and not in the inference log (the hooks are skipped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import numpy as np

from ebb.core.datatypes import numpy_dtype
from ebb.core.errors import EbbError, ModelError
from ebb.core.types import InferRequest, ModelMetadata, Tensor
from ebb.serving.dispatcher import ServedModel, admit

log = logging.getLogger("ebb.warmup")

WARM_UP_ID = "ebb-warm-up"
FIRST_RETRY_S = 0.5
LONGEST_RETRY_S = 30.0


def example_request(metadata: ModelMetadata, timeout_s: float | None
                    ) -> tuple[InferRequest, bool] | None:
    """A request the model must accept, and whether any dimension in it was guessed; None when
    no example can be built (a datatype without a numpy equivalent)."""
    tensors = []
    guessed = False
    batchable = metadata.max_batch_size > 0
    for spec in metadata.inputs:
        shape = []
        for index, dim in enumerate(spec.shape):
            guessed = guessed or (dim == -1 and not (batchable and index == 0))
            shape.append(1 if dim == -1 else dim)
        try:
            dtype = numpy_dtype(spec.datatype)
        except EbbError:
            return None
        if spec.datatype == "BYTES":
            data = np.full(shape, b"", dtype=object)
        else:
            data = np.zeros(shape, dtype=dtype)
        tensors.append(Tensor(spec.name, spec.datatype, data))
    request = InferRequest(metadata.name, tuple(tensors), id=WARM_UP_ID, timeout_s=timeout_s)
    return request, guessed


async def warm_up(served: ServedModel, timeout_s: float | None,
                  stopping: asyncio.Event) -> None:
    """Run warm-up inferences until one is answered, then mark the model warmed."""
    name = served.name
    example = example_request(served.metadata, timeout_s)
    if example is None:
        log.info("model %s: no warm-up inference (an input datatype has no example); ready "
                 "once a worker is", name)
        served.warmed = True
        return
    request, guessed = example
    pause = FIRST_RETRY_S
    while not stopping.is_set():
        began = time.perf_counter()
        try:
            await admit(served, request).future
        except ModelError as error:
            if guessed:
                log.info("model %s: warm-up on a guessed shape was refused by the model (%s); "
                         "it answered, so it counts as ready", name, error.message)
                served.warmed = True
                return
            log.warning("model %s: warm-up inference failed: %s; retrying in %g s", name,
                        error.message, pause)
        except EbbError as error:
            log.warning("model %s: warm-up inference failed: %s; retrying in %g s", name,
                        error.message, pause)
        else:
            log.info("model %s: warm-up inference answered in %.1f ms; ready", name,
                     (time.perf_counter() - began) * 1000)
            served.warmed = True
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), pause)
        pause = min(pause * 2, LONGEST_RETRY_S)

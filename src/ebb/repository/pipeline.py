"""Pipelines: a repository model that is a chain of other models, served under one name.

    # DIR/vibration_alert/config.toml
    steps = ["counts_to_g", "scorer", "alert"]

Each step is a model of the repository with its own queue, batcher, worker pool and
autoscaler; the pipeline hands each step's output tensors to the next one in-process (no
encoding, no protocol). A step's inputs are taken from the previous step's outputs by name;
when the previous step has one output and the step one input, they connect whatever their
names. The pipeline's inputs are the first step's, its outputs the last step's. ``link``
checks the chain when the pipeline loads, so a request never meets a broken one.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from ebb.core.dispatch import select_outputs
from ebb.core.errors import EbbError, InvalidInput
from ebb.core.types import InferRequest, InferResponse, ModelMetadata, Tensor, TensorSpec
from ebb.repository.config import RepositoryError

Infer = Callable[[InferRequest], Awaitable[InferResponse]]


@dataclass(frozen=True)
class Pipeline:
    name: str
    steps: tuple[str, ...]
    wiring: tuple[Mapping[str, str], ...]
    """Per step after the first: its input name -> the previous step's output name."""
    metadata: ModelMetadata


def link(name: str, steps: list[ModelMetadata]) -> Pipeline:
    """Check that each step can feed the next; the pipeline's metadata and wiring."""
    if not steps:
        raise RepositoryError(f"pipeline {name} has no steps")
    wiring = [_wire(name, before, after) for before, after in itertools.pairwise(steps)]
    first, last = steps[0], steps[-1]
    batch_limits = [meta.max_batch_size for meta in steps]
    return Pipeline(name, tuple(meta.name for meta in steps), tuple(wiring), ModelMetadata(
        name, first.inputs, last.outputs, ("1",), "ebb_pipeline",
        0 if 0 in batch_limits else min(batch_limits)))


def _wire(pipeline: str, before: ModelMetadata, after: ModelMetadata) -> dict[str, str]:
    outputs = {spec.name: spec for spec in before.outputs}
    if len(before.outputs) == 1 and len(after.inputs) == 1:
        pairs = {after.inputs[0].name: before.outputs[0].name}
    else:
        missing = [spec.name for spec in after.inputs if spec.name not in outputs]
        if missing:
            raise RepositoryError(
                f"pipeline {pipeline}: step {after.name} needs input(s) {', '.join(missing)} "
                f"that step {before.name} does not produce (outputs: {', '.join(outputs)})")
        pairs = {spec.name: spec.name for spec in after.inputs}
    wanted = {spec.name: spec for spec in after.inputs}
    for input_name, output_name in pairs.items():
        _check_fits(pipeline, outputs[output_name], wanted[input_name], before.name, after.name)
    return pairs


def _check_fits(pipeline: str, given: TensorSpec, wanted: TensorSpec, before: str,
                after: str) -> None:
    same_rank = len(given.shape) == len(wanted.shape)
    if given.datatype != wanted.datatype or not same_rank or any(
            -1 not in (a, b) and a != b for a, b in zip(given.shape, wanted.shape, strict=False)):
        raise RepositoryError(
            f"pipeline {pipeline}: step {before} output {given.name} is "
            f"{given.datatype}{list(given.shape)}, step {after} input {wanted.name} needs "
            f"{wanted.datatype}{list(wanted.shape)}")


async def run(pipeline: Pipeline, request: InferRequest, infer: Infer) -> InferResponse:
    """Run the steps in order; a step's error is the pipeline's, naming the step."""
    current = InferRequest(pipeline.steps[0], request.inputs, id=request.id,
                           parameters=request.parameters, timeout_s=request.timeout_s)
    deadline = time.monotonic() + request.timeout_s if request.timeout_s else None
    response: InferResponse | None = None
    for index, step in enumerate(pipeline.steps):
        if index:
            assert response is not None
            produced = {tensor.name: tensor for tensor in response.outputs}
            inputs = tuple(Tensor(name, produced[source].datatype, produced[source].data)
                           for name, source in pipeline.wiring[index - 1].items())
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            current = InferRequest(step, inputs, id=request.id, timeout_s=remaining)
        try:
            response = await infer(current)
        except EbbError as error:
            error.message = f"pipeline {pipeline.name}, step {step}: {error.message}"
            error.args = (error.message,)
            raise
    assert response is not None
    outputs = {tensor.name: tensor.data for tensor in response.outputs}
    try:
        selected = select_outputs(outputs, request)
    except InvalidInput as error:
        raise InvalidInput(f"pipeline {pipeline.name}: {error.message}") from None
    return InferResponse(pipeline.name, "1", selected, id=request.id)

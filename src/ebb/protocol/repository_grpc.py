"""The repository, statistics and model-config extensions over gRPC (Triton's RPCs).

``create_server`` takes a ``RepositoryServicer`` and serves its methods beside the inference
ones; what they raise is turned into a gRPC status by ``grpc_server``'s one error mapping.
"""

from __future__ import annotations

from typing import Any

from ebb.core.errors import InvalidInput
from ebb.core.repository import Duration, ModelConfiguration, Repository, VersionStatistics
from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol.repository_json import TRITON_TYPES, dims


class RepositoryServicer:
    def __init__(self, repository: Repository) -> None:
        self._repository = repository

    async def RepositoryIndex(self, request: Any, context: Any) -> Any:
        response = pb.RepositoryIndexResponse()
        for entry in self._repository.index(request.ready):
            response.models.add(name=entry.name, version=entry.version, state=entry.state,
                                reason=entry.reason)
        return response

    async def RepositoryModelLoad(self, request: Any, context: Any) -> Any:
        _check_parameters(request, "load")
        await self._repository.load(_model_name(request))
        return pb.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(self, request: Any, context: Any) -> Any:
        _check_parameters(request, "unload")
        await self._repository.unload(_model_name(request))
        return pb.RepositoryModelUnloadResponse()

    async def ModelStatistics(self, request: Any, context: Any) -> Any:
        response = pb.ModelStatisticsResponse()
        for item in self._repository.statistics(request.name, request.version):
            _add_statistics(response.model_stats.add(), item)
        return response

    async def ModelConfig(self, request: Any, context: Any) -> Any:
        config = self._repository.config(request.name, request.version)
        return pb.ModelConfigResponse(config=_config_message(config))


def _model_name(request: Any) -> str:
    if not request.model_name:
        raise InvalidInput("model_name is empty")
    return str(request.model_name)


def _check_parameters(request: Any, action: str) -> None:
    unsupported = sorted(key for key in request.parameters if key != "unload_dependents")
    if unsupported:
        raise InvalidInput(f"{action} parameter(s) {', '.join(unsupported)} are not supported: "
                           "Ebb loads models from its repository directory as they are on disk")


def _duration(message: Any, value: Duration) -> None:
    message.count = value.count
    message.ns = value.ns


def _add_statistics(message: Any, item: VersionStatistics) -> None:
    message.name = item.name
    message.version = item.version
    message.last_inference = item.last_inference_ms
    message.inference_count = item.inference_count
    message.execution_count = item.execution_count
    stats = message.inference_stats
    _duration(stats.success, item.success)
    _duration(stats.fail, item.fail)
    _duration(stats.queue, item.queue)
    _duration(stats.compute_infer, item.compute_infer)
    for unmeasured in (stats.compute_input, stats.compute_output, stats.cache_hit,
                       stats.cache_miss):
        _duration(unmeasured, Duration())
    for batch in item.batches:
        entry = message.batch_stats.add(batch_size=batch.batch_size)
        _duration(entry.compute_infer, batch.compute_infer)
        for unmeasured in (entry.compute_input, entry.compute_output):
            _duration(unmeasured, Duration())


def _config_message(config: ModelConfiguration) -> Any:
    message = pb.ModelConfig(name=config.name, platform=config.platform, backend="ebb",
                             max_batch_size=config.max_batch_size)
    kind, values = config.version_policy
    if kind == "latest":
        message.version_policy.latest.num_versions = int(values[0])
    elif kind == "specific":
        message.version_policy.specific.versions.extend(int(v) for v in values)
    else:
        message.version_policy.all.SetInParent()
    for spec in config.inputs:
        message.input.add(name=spec.name, data_type=TRITON_TYPES.get(spec.datatype, "TYPE_INVALID"),
                          dims=dims(spec, config.max_batch_size))
    for spec in config.outputs:
        message.output.add(name=spec.name,
                           data_type=TRITON_TYPES.get(spec.datatype, "TYPE_INVALID"),
                           dims=dims(spec, config.max_batch_size))
    message.instance_group.add(name=config.name, kind=pb.ModelInstanceGroup.KIND_CPU,
                               count=config.instance_count)
    if config.max_batch_size > 0:
        message.dynamic_batching.max_queue_delay_microseconds = config.max_queue_delay_us
    return message

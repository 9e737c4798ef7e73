"""The repository, statistics and model-config extensions' answers as Triton's JSON. Pure.

gRPC builds the same answers as protobuf messages (``repository_grpc``); both read the neutral
values of ``ebb.core.repository``.
"""

from __future__ import annotations

from typing import Any

from ebb.core.repository import Duration, IndexEntry, ModelConfiguration, VersionStatistics
from ebb.core.types import TensorSpec

TRITON_TYPES = {"BOOL": "TYPE_BOOL", "UINT8": "TYPE_UINT8", "UINT16": "TYPE_UINT16",
                "UINT32": "TYPE_UINT32", "UINT64": "TYPE_UINT64", "INT8": "TYPE_INT8",
                "INT16": "TYPE_INT16", "INT32": "TYPE_INT32", "INT64": "TYPE_INT64",
                "FP16": "TYPE_FP16", "FP32": "TYPE_FP32", "FP64": "TYPE_FP64",
                "BYTES": "TYPE_STRING", "BF16": "TYPE_BF16"}


def index_json(entries: list[IndexEntry]) -> list[dict[str, str]]:
    rows = []
    for entry in entries:
        row = {"name": entry.name, "state": entry.state}
        if entry.version:
            row["version"] = entry.version
        if entry.reason:
            row["reason"] = entry.reason
        rows.append(row)
    return rows


def _duration(value: Duration) -> dict[str, int]:
    return {"count": value.count, "ns": value.ns}


def statistics_json(stats: list[VersionStatistics]) -> dict[str, Any]:
    zero = _duration(Duration())
    return {"model_stats": [{
        "name": item.name, "version": item.version, "last_inference": item.last_inference_ms,
        "inference_count": item.inference_count, "execution_count": item.execution_count,
        "inference_stats": {
            "success": _duration(item.success), "fail": _duration(item.fail),
            "queue": _duration(item.queue), "compute_input": zero,
            "compute_infer": _duration(item.compute_infer), "compute_output": zero,
            "cache_hit": zero, "cache_miss": zero},
        "batch_stats": [{
            "batch_size": batch.batch_size, "compute_input": zero,
            "compute_infer": _duration(batch.compute_infer), "compute_output": zero}
            for batch in item.batches]} for item in stats]}


def dims(spec: TensorSpec, max_batch_size: int) -> list[int]:
    """Triton's dims leave out the batch dimension of a batching model."""
    return list(spec.shape[1:] if max_batch_size > 0 and spec.shape else spec.shape)


def version_policy_json(policy: tuple[str, tuple[str, ...]]) -> dict[str, Any]:
    kind, values = policy
    if kind == "latest":
        return {"latest": {"num_versions": int(values[0])}}
    if kind == "specific":
        return {"specific": {"versions": [int(v) for v in values]}}
    return {"all": {}}


def config_json(config: ModelConfiguration) -> dict[str, Any]:
    def tensors(specs: tuple[TensorSpec, ...]) -> list[dict[str, Any]]:
        return [{"name": spec.name, "data_type": TRITON_TYPES.get(spec.datatype, "TYPE_INVALID"),
                 "dims": dims(spec, config.max_batch_size)} for spec in specs]

    document: dict[str, Any] = {
        "name": config.name, "platform": config.platform, "backend": "ebb",
        "version_policy": version_policy_json(config.version_policy),
        "max_batch_size": config.max_batch_size,
        "input": tensors(config.inputs), "output": tensors(config.outputs),
        "instance_group": [{"name": config.name, "kind": "KIND_CPU",
                            "count": config.instance_count}]}
    if config.max_batch_size > 0:
        document["dynamic_batching"] = {
            "max_queue_delay_microseconds": config.max_queue_delay_us}
    return document

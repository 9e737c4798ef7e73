"""Print a generated protobuf module's messages and services as JSON (run as a script).

``python _dump_descriptors.py MODULE`` imports MODULE (say ``tritonclient.grpc.service_pb2``) and
prints ``{"messages": {full name: {field: [number, type, label, message type, oneof]}},
"services": {full name: {method: [input type, output type]}}}``. It runs in its own process
because several packages register the same ``inference.*`` protobuf names.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

EBB_MODULE = "ebb.protocol._generated.open_inference_pb2"

MESSAGES = [  # the messages of the OIP gRPC spec, nested ones included
    "inference.ServerLiveRequest", "inference.ServerLiveResponse",
    "inference.ServerReadyRequest", "inference.ServerReadyResponse",
    "inference.ModelReadyRequest", "inference.ModelReadyResponse",
    "inference.ServerMetadataRequest", "inference.ServerMetadataResponse",
    "inference.ModelMetadataRequest", "inference.ModelMetadataResponse",
    "inference.ModelMetadataResponse.TensorMetadata",
    "inference.ModelInferRequest", "inference.ModelInferRequest.InferInputTensor",
    "inference.ModelInferRequest.InferRequestedOutputTensor",
    "inference.ModelInferResponse", "inference.ModelInferResponse.InferOutputTensor",
    "inference.InferParameter", "inference.InferTensorContents",
]

EXTENSION_MESSAGES = [  # the model configuration, statistics and repository extensions (Triton's)
    "inference.ModelConfigRequest", "inference.ModelConfigResponse",
    "inference.ModelStatisticsRequest", "inference.ModelStatisticsResponse",
    "inference.ModelStatistics", "inference.StatisticDuration", "inference.InferStatistics",
    "inference.InferBatchStatistics", "inference.MemoryUsage", "inference.InferResponseStatistics",
    "inference.RepositoryIndexRequest", "inference.RepositoryIndexResponse",
    "inference.RepositoryIndexResponse.ModelIndex", "inference.ModelRepositoryParameter",
    "inference.RepositoryModelLoadRequest", "inference.RepositoryModelLoadResponse",
    "inference.RepositoryModelUnloadRequest", "inference.RepositoryModelUnloadResponse",
]

CONFIG_MESSAGES = [  # a subset of each of Triton's model_config.proto messages
    "inference.ModelConfig", "inference.ModelInput", "inference.ModelOutput",
    "inference.ModelVersionPolicy", "inference.ModelVersionPolicy.Latest",
    "inference.ModelVersionPolicy.All", "inference.ModelVersionPolicy.Specific",
    "inference.ModelDynamicBatching", "inference.ModelInstanceGroup",
]


def _messages(descriptor: Any, into: dict[str, Any]) -> None:
    fields = {}
    for field in descriptor.fields:
        fields[field.name] = [
            field.number,
            field.type,
            "repeated" if field.is_repeated else "single",
            field.message_type.full_name if field.message_type else None,
            field.containing_oneof.name if field.containing_oneof else None,
        ]
    into[descriptor.full_name] = fields
    for nested in descriptor.nested_types:
        if not nested.GetOptions().map_entry:
            _messages(nested, into)


def dump(module_name: str) -> dict[str, Any]:
    file = importlib.import_module(module_name).DESCRIPTOR
    messages: dict[str, Any] = {}
    for message in file.message_types_by_name.values():
        _messages(message, messages)
    services = {
        service.full_name: {method.name: [method.input_type.full_name,
                                          method.output_type.full_name]
                            for method in service.methods}
        for service in file.services_by_name.values()
    }
    return {"package": file.package, "messages": messages, "services": services}


def dump_in_subprocess(python: str, module: str) -> dict[str, Any]:
    """``dump(module)`` as run by interpreter ``python`` in a process of its own."""
    process = subprocess.run([python, str(Path(__file__)), module],
                             capture_output=True, text=True, timeout=60)
    if process.returncode != 0:
        raise RuntimeError(f"dumping {module} failed:\n{process.stderr}")
    dumped: dict[str, Any] = json.loads(process.stdout)
    return dumped


if __name__ == "__main__":
    json.dump(dump(sys.argv[1]), sys.stdout)

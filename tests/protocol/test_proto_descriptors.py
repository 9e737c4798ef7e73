"""ebb's gRPC messages have the same field names, numbers and types as tritonclient's.

A client only interoperates if every field number and wire type agrees. Each side's descriptors
are dumped in its own subprocess (``_dump_descriptors.py``): both register the protobuf package
``inference`` and cannot be imported into one process.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tests.protocol._dump_descriptors import (
    CONFIG_MESSAGES,
    EBB_MODULE,
    EXTENSION_MESSAGES,
    MESSAGES,
    dump_in_subprocess,
)

TRITON_MODULE = "tritonclient.grpc.service_pb2"
SERVICE = "inference.GRPCInferenceService"


@pytest.fixture(scope="module")
def ebb() -> dict[str, Any]:
    return dump_in_subprocess(sys.executable, EBB_MODULE)


@pytest.fixture(scope="module")
def triton() -> dict[str, Any]:
    return dump_in_subprocess(sys.executable, TRITON_MODULE)


@pytest.fixture(scope="module")
def triton_config() -> dict[str, Any]:
    return dump_in_subprocess(sys.executable, "tritonclient.grpc.model_config_pb2")


def test_ebb_defines_exactly_the_spec_messages(ebb: dict[str, Any]) -> None:
    assert ebb["package"] == "inference"
    assert sorted(ebb["messages"]) == sorted(MESSAGES + EXTENSION_MESSAGES + CONFIG_MESSAGES)


@pytest.mark.parametrize("message", CONFIG_MESSAGES)
def test_config_fields_are_a_subset_of_tritons(ebb: dict[str, Any],
                                               triton_config: dict[str, Any],
                                               message: str) -> None:
    """Ebb fills part of Triton's ModelConfig: every field it has is Triton's, unchanged."""
    ours = ebb["messages"][message]
    theirs = triton_config["messages"][message]
    for field, description in ours.items():
        assert theirs.get(field) == description, field


@pytest.mark.parametrize("message", MESSAGES + EXTENSION_MESSAGES)
def test_fields_match_tritonclient(ebb: dict[str, Any], triton: dict[str, Any],
                                   message: str) -> None:
    """name -> [number, wire type, repeated or single, message type, oneof], all equal."""
    assert message in triton["messages"]
    assert ebb["messages"][message] == triton["messages"][message]


def test_service_methods_match_tritonclient(ebb: dict[str, Any], triton: dict[str, Any]) -> None:
    ours = ebb["services"][SERVICE]
    assert sorted(ours) == ["ModelConfig", "ModelInfer", "ModelMetadata", "ModelReady",
                            "ModelStatistics", "RepositoryIndex", "RepositoryModelLoad",
                            "RepositoryModelUnload", "ServerLive", "ServerMetadata",
                            "ServerReady"]
    for method, types in ours.items():
        assert triton["services"][SERVICE][method] == types, method

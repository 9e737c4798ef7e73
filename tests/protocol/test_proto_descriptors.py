"""ebb's gRPC messages have the same field names, numbers and types as tritonclient's.

A client only interoperates if every field number and wire type agrees. Each side's descriptors
are dumped in its own subprocess (``_dump_descriptors.py``): both register the protobuf package
``inference`` and cannot be imported into one process.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tests.protocol._dump_descriptors import EBB_MODULE, MESSAGES, dump_in_subprocess

TRITON_MODULE = "tritonclient.grpc.service_pb2"
SERVICE = "inference.GRPCInferenceService"


@pytest.fixture(scope="module")
def ebb() -> dict[str, Any]:
    return dump_in_subprocess(sys.executable, EBB_MODULE)


@pytest.fixture(scope="module")
def triton() -> dict[str, Any]:
    return dump_in_subprocess(sys.executable, TRITON_MODULE)


def test_ebb_defines_exactly_the_spec_messages(ebb: dict[str, Any]) -> None:
    assert ebb["package"] == "inference"
    assert sorted(ebb["messages"]) == sorted(MESSAGES)


@pytest.mark.parametrize("message", MESSAGES)
def test_fields_match_tritonclient(ebb: dict[str, Any], triton: dict[str, Any],
                                   message: str) -> None:
    """name -> [number, wire type, repeated or single, message type, oneof], all equal."""
    assert message in triton["messages"]
    assert ebb["messages"][message] == triton["messages"][message]


def test_service_methods_match_tritonclient(ebb: dict[str, Any], triton: dict[str, Any]) -> None:
    ours = ebb["services"][SERVICE]
    assert sorted(ours) == ["ModelInfer", "ModelMetadata", "ModelReady", "ServerLive",
                            "ServerMetadata", "ServerReady"]
    for method, types in ours.items():
        assert triton["services"][SERVICE][method] == types, method

"""Servers of the identity test models (every OIP datatype), started once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, start_server

REPO_ROOT = Path(__file__).resolve().parents[2]


def _serve(tmp_path: Path, target: str) -> RunningServer:
    """``ebb serve`` of a class in this folder; the server imports it, so it needs the repo root."""
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return start_server(tmp_path, target, "--max-batch-delay-ms", "1",
                        env={"PYTHONPATH": python_path})


@pytest.fixture(scope="session")
def identity_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = _serve(tmp_path_factory.mktemp("identity"),
                    "tests.protocol.identity_models:Identity")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def identity_typed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = _serve(tmp_path_factory.mktemp("identity-typed"),
                    "tests.protocol.identity_models:IdentityTyped")
    yield server
    server.stop()

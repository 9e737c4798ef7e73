"""A model repository on disk and one ``ebb serve DIR`` of it, shared by this folder's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ebb.runtime.demo import demo_model_path
from tests.conftest import RunningServer, start_server

SLOW_MS = 400


def write_repository(root: Path) -> Path:
    """double: versions 1-3, the latest two served; slow: 0.4 s a batch; scorer: the demo ONNX."""
    for version in (1, 2, 3):
        (root / "double" / str(version)).mkdir(parents=True)
    (root / "double" / "config.toml").write_text(
        'source = "builtin:double"\nversion_policy = "latest"\nlatest = 2\n'
        'max_batch_size = 8\nmax_batch_delay_ms = 1\n')
    (root / "slow" / "1").mkdir(parents=True)
    (root / "slow" / "config.toml").write_text(
        f'source = "builtin:sleep?ms={SLOW_MS}"\nmax_batch_size = 1\n')
    (root / "scorer" / "1").mkdir(parents=True)
    (root / "scorer" / "1" / "model.onnx").write_bytes(demo_model_path().read_bytes())
    return root


@pytest.fixture(scope="module")
def repository_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = write_repository(tmp_path_factory.mktemp("repository"))
    server = start_server(root, str(root), "--drain-timeout-s", "10")
    yield server
    server.stop()

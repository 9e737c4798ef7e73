"""Each render case rendered once per session, into its own directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kubernetes.render.cases import CASES, render_case


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """``case -> files`` for every case of :data:`CASES`."""
    base = tmp_path_factory.mktemp("k8s")
    return {case: render_case(case, base / case) for case in CASES}

"""Golden files: each case's rendered files, byte for byte, in tests/kubernetes/golden/<case>/.

A change to the manifests shows up here as a diff to review. After an intended change,
regenerate with ``EBB_UPDATE_GOLDEN=1 pytest tests/kubernetes/render/test_golden.py`` and
review ``git diff tests/kubernetes/golden``. The rule and dashboard files are left out: they
are ``ebb rules export`` and ``ebb dashboards export`` output, compared structurally in
test_promql.py and test_render.py, so a new panel does not churn thirteen golden copies.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.kubernetes.render.cases import CASES

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("EBB_UPDATE_GOLDEN") == "1"
NOT_GOLDEN = {"prometheus-rule.yaml", "grafana-dashboards.yaml"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_files_match_the_golden_files(case: str,
                                               rendered: dict[str, list[Path]]) -> None:
    files = {path.name: path.read_text() for path in rendered[case]
             if path.name not in NOT_GOLDEN}
    directory = GOLDEN / case
    if UPDATE:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.yaml"):
            if stale.name not in files:
                stale.unlink()
        for name, text in files.items():
            (directory / name).write_text(text)
    expected = {path.name: path.read_text() for path in sorted(directory.glob("*.yaml"))}
    assert sorted(files) == sorted(expected), (
        "files differ from the golden set; EBB_UPDATE_GOLDEN=1 regenerates after review")
    for name, text in files.items():
        assert text == expected[name], (
            f"{case}/{name} differs from {directory / name}; if intended, regenerate with "
            f"EBB_UPDATE_GOLDEN=1 and review the diff")

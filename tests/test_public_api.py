"""The public API for model authors: what ``from ebb import ...`` gives, and that it is enough."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ebb
from ebb.core.types import TensorSpec
from ebb.runtime.loaders import resolve

EXPECTED = {"Model", "TensorSpec", "__version__"}

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_model() -> str:
    """The README's Python-model example, so the test fails when the README stops working."""
    blocks = README.read_text().split("```python\n")[1:]
    examples = [block.split("```")[0] for block in blocks if "from ebb import" in block]
    assert examples, "README.md has no Python example importing from ebb"
    return examples[0]


def test_all_lists_exactly_the_public_names() -> None:
    assert sorted(ebb.__all__) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_public_name_is_importable(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from ebb import {name}", namespace)
    assert namespace[name] is getattr(ebb, name)


def test_public_names_are_the_ones_the_server_uses() -> None:
    assert ebb.TensorSpec is TensorSpec
    assert isinstance(ebb.__version__, str) and ebb.__version__


def test_a_readme_model_is_served_by_the_python_class_loader(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "readme_scorer_model.py").write_text(_readme_model())
    monkeypatch.syspath_prepend(str(tmp_path))
    source = resolve("readme_scorer_model:Scorer")
    metadata = source.describe()
    assert metadata.name == "scorer"
    assert metadata.inputs == (TensorSpec("features", "FP32", (-1, 8)),)
    assert metadata.outputs == (TensorSpec("score", "FP32", (-1,)),)
    assert metadata.max_batch_size == 64
    features = np.arange(16, dtype=np.float32).reshape(2, 8)
    outputs = source.load().infer({"features": features})
    assert outputs["score"].tolist() == [28.0, 92.0]

"""Turn what the user typed (a path or a spec) into a ModelSource."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl

from ebb.runtime.base import ModelSource
from ebb.runtime.onnx_model import OnnxSource
from ebb.runtime.python_class import ModelLoadError, PythonClassSource
from ebb.runtime.sklearn_model import SklearnSource
from ebb.runtime.torchscript_model import TorchScriptSource

BUILTINS = {
    "double": "ebb.runtime.builtin:DoubleModel",
    "sleep": "ebb.runtime.builtin:SleepModel",
    "chaos": "ebb.runtime.builtin:ChaosModel",
}
_SKLEARN_SUFFIXES = {".joblib", ".pkl", ".pickle"}
_TORCH_SUFFIXES = {".pt", ".pth", ".torchscript"}


def resolve(spec: str | None, name: str | None = None, trust_pickle: bool = False) -> ModelSource:
    """``None`` is the demo model; otherwise a builtin, a file, or ``module:Class``."""
    if spec is None or spec == "demo":
        from ebb.runtime.demo import MODEL_NAME, demo_model_path

        return OnnxSource(demo_model_path(), name or MODEL_NAME)
    if spec.startswith("builtin:"):
        return _builtin(spec.removeprefix("builtin:"), name)
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix == ".onnx" or suffix in _SKLEARN_SUFFIXES or suffix in _TORCH_SUFFIXES:
        if not path.is_file():
            raise ModelLoadError(f"model file {spec} does not exist")
        if suffix == ".onnx":
            return OnnxSource(path, name)
        if suffix in _SKLEARN_SUFFIXES:
            return SklearnSource(path, trust_pickle, name)
        return TorchScriptSource(path, name)
    if ":" in spec:
        return PythonClassSource(spec, name, search_path=os.getcwd())
    raise ModelLoadError(
        f"cannot tell how to serve {spec!r}: give an .onnx, .joblib/.pkl (scikit-learn), "
        ".pt (TorchScript) file, builtin:double, builtin:sleep?ms=20, or module:Class"
    )


def _builtin(spec: str, name: str | None) -> ModelSource:
    key, _, query = spec.partition("?")
    if key not in BUILTINS:
        raise ModelLoadError(f"unknown builtin model {key!r}; choose from {', '.join(BUILTINS)}")
    kwargs: dict[str, float] = {}
    for param, value in parse_qsl(query, keep_blank_values=True):
        try:
            kwargs[param] = float(value)
        except ValueError:
            raise ModelLoadError(f"builtin:{key}: {param}={value!r} is not a number") from None
    source = PythonClassSource(BUILTINS[key], name or key, kwargs)
    try:
        source.describe()
    except (TypeError, ValueError) as error:
        raise ModelLoadError(f"builtin:{key}: {error}") from None
    return source

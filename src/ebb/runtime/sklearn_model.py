"""scikit-learn estimators saved with joblib. Unpickling runs code, so it needs explicit trust."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ebb.core.datatypes import datatype_of
from ebb.core.types import ModelMetadata, TensorSpec
from ebb.runtime.base import UNBOUNDED_BATCH, ModelRuntime
from ebb.runtime.python_class import ModelLoadError


@dataclass(frozen=True)
class SklearnSource:
    path: Path
    trust_pickle: bool
    name: str | None = None

    def _estimator(self) -> Any:
        if not self.trust_pickle:
            raise ModelLoadError(
                f"{self.path} is a pickle, and loading a pickle runs the code inside it; "
                "serve it only if you trust its origin, with --trust-pickle"
            )
        try:
            import joblib
        except ImportError:
            raise ModelLoadError("scikit-learn models need: pip install 'ebb[sklearn]'") from None
        try:
            return joblib.load(self.path)
        except Exception as error:
            raise ModelLoadError(f"cannot load {self.path}: {error}") from None

    def describe(self) -> ModelMetadata:
        estimator = self._estimator()
        features = getattr(estimator, "n_features_in_", -1)
        outputs = [TensorSpec("predict", _label_datatype(estimator), (-1,))]
        if hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_"):
            outputs.append(TensorSpec("predict_proba", "FP64", (-1, len(estimator.classes_))))
        return ModelMetadata(
            name=self.name or self.path.stem,
            platform="sklearn",
            inputs=(TensorSpec("input", "FP32", (-1, features)),),
            outputs=tuple(outputs),
            max_batch_size=UNBOUNDED_BATCH,
        )

    def load(self) -> ModelRuntime:
        return SklearnModel(self._estimator())


def _label_datatype(estimator: Any) -> str:
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return "FP64"
    return datatype_of(np.asarray(classes))


class SklearnModel:
    def __init__(self, estimator: Any) -> None:
        self._estimator = estimator
        self._with_proba = hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_")

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        features = inputs["input"]
        predictions = np.asarray(self._estimator.predict(features))
        if predictions.dtype.kind == "U":
            predictions = predictions.astype(object)
        outputs = {"predict": predictions}
        if self._with_proba:
            outputs["predict_proba"] = np.asarray(self._estimator.predict_proba(features),
                                                  dtype=np.float64)
        return outputs

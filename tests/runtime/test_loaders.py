from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ebb.runtime.demo import build, faulty_windows, healthy_windows
from ebb.runtime.loaders import resolve
from ebb.runtime.python_class import ModelLoadError


def test_onnx_metadata_comes_from_the_file(tmp_path: Path) -> None:
    source = resolve(str(build(tmp_path / "scorer.onnx")))
    metadata = source.describe()
    assert metadata.platform == "onnxruntime_onnx"
    assert [(s.name, s.datatype, s.shape) for s in metadata.inputs] == [
        ("vibration", "FP32", (-1, 64))]
    assert [s.datatype for s in metadata.outputs] == ["FP32", "BOOL"]
    assert metadata.max_batch_size > 0


def test_demo_scorer_separates_faults_from_healthy(tmp_path: Path) -> None:
    model = resolve(str(build(tmp_path / "scorer.onnx"))).load()
    rng = np.random.default_rng(11)
    healthy = model.infer({"vibration": healthy_windows(500, rng)})["is_anomaly"]
    faulty = model.infer({"vibration": faulty_windows(500, rng)})["is_anomaly"]
    assert np.mean(healthy) < 0.02
    assert np.mean(faulty) > 0.98


def test_sklearn_needs_explicit_trust(tmp_path: Path) -> None:
    import joblib
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3))
    labels = (features[:, 0] > 0).astype(np.int64)
    path = tmp_path / "clf.joblib"
    joblib.dump(LogisticRegression().fit(features, labels), path)
    with pytest.raises(ModelLoadError, match="--trust-pickle"):
        resolve(str(path)).describe()
    source = resolve(str(path), trust_pickle=True)
    metadata = source.describe()
    assert [s.name for s in metadata.outputs] == ["predict", "predict_proba"]
    outputs = source.load().infer({"input": np.array([[3.0, 0, 0], [-3.0, 0, 0]], np.float32)})
    assert outputs["predict"].tolist() == [1, 0]


def test_builtin_specs_and_errors() -> None:
    assert resolve("builtin:sleep?ms=5&per_item_ms=0.1").describe().name == "sleep"
    assert resolve("builtin:double", name="twice").describe().name == "twice"
    with pytest.raises(ModelLoadError, match="unknown builtin"):
        resolve("builtin:triple")
    with pytest.raises(ModelLoadError, match="not a number"):
        resolve("builtin:sleep?ms=fast")
    with pytest.raises(ModelLoadError, match="must not be negative"):
        resolve("builtin:sleep?load_ms=-1")
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve("missing.onnx")
    with pytest.raises(ModelLoadError, match="cannot import"):
        resolve("no_such_module_xyz:Model").describe()


def test_sleep_model_load_ms_is_a_slow_model_load() -> None:
    """What an autoscaling experiment's cold start is made of: the worker loading the model."""
    import time

    source = resolve("builtin:sleep?ms=1&load_ms=150")
    started = time.perf_counter()
    model = source.load()
    assert time.perf_counter() - started >= 0.15
    batch = np.ones((2, 3), np.float32)
    assert model.infer({"INPUT0": batch})["OUTPUT0"].tolist() == batch.tolist()


def test_onnx_model_is_named_after_its_file_not_its_graph(tmp_path: Path) -> None:
    path = build(tmp_path / "pump_scorer.onnx")  # its graph is named "vibration_anomaly"
    assert resolve(str(path)).describe().name == "pump_scorer"
    assert resolve(str(path), name="other").describe().name == "other"


def test_demo_model_calls_a_flat_window_healthy_and_impulses_anomalous(tmp_path: Path) -> None:
    model = resolve(str(build(tmp_path / "scorer.onnx"))).load()
    flat = np.full((1, 64), 0.5, np.float32)  # the banner's example: a sensor's DC offset
    impulses = flat.copy()
    impulses[0, ::8] = 2.5  # the banner's anomalous example
    outputs = model.infer({"vibration": np.concatenate([flat, impulses, flat * 0])})
    assert outputs["is_anomaly"].tolist() == [False, True, False]


def test_module_class_is_imported_from_the_current_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "h14_scorers.py").write_text(
        "from ebb import TensorSpec\n"
        "class Scorer:\n"
        "    inputs = [TensorSpec('features', 'FP32', (-1, 2))]\n"
        "    outputs = [TensorSpec('score', 'FP32', (-1,))]\n"
        "    max_batch_size = 8\n"
        "    def infer(self, inputs):\n"
        "        return {'score': inputs['features'].sum(axis=1)}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", ".")])
    source = resolve("h14_scorers:Scorer")
    assert source.describe().outputs[0].name == "score"
    assert getattr(source, "search_path", None) == str(tmp_path)
    with pytest.raises(ModelLoadError, match="searched the current directory first"):
        resolve("h14_no_such_module:Scorer").describe()

"""The demo model: a vibration anomaly scorer for predictive maintenance, built on first use.

Healthy machine vibration is a few harmonics of the shaft speed with random phase, plus sensor
noise. Windows of 64 samples from such a signal lie close to a low-dimensional subspace, so the
scorer is PCA reconstruction error: fit the subspace on synthetic healthy windows, and score a
window by how much of it the subspace cannot explain, normalised so that 1.0 is the 99.5th
percentile of healthy windows. Bearing faults (impulse trains) and looseness (broadband energy)
score far above 1. The network is plain ONNX, so it serves through onnxruntime like a user's model.

Each window's own mean (a sensor's DC offset, which says nothing about the machine) is removed
first, so a flat window such as the banner's example is healthy, as a resting sensor would be.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

WINDOW = 64
COMPONENTS = 8
MODEL_NAME = "vibration_anomaly"
_FILE = f"{MODEL_NAME}-v1-dc.onnx"
"""Cache file name; renamed whenever the network changes, so an old cache is not reused."""


def cache_dir() -> Path:
    return Path(os.environ.get("EBB_CACHE_DIR", Path.home() / ".cache" / "ebb"))


def healthy_windows(count: int, rng: np.random.Generator) -> np.ndarray:
    """Synthetic healthy vibration: shaft harmonics 1x-3x with random phase and amplitude."""
    t = np.arange(WINDOW, dtype=np.float64)
    shaft = 2 * np.pi * 3.0 / WINDOW
    windows = np.zeros((count, WINDOW))
    for harmonic, amplitude in ((1, 1.0), (2, 0.5), (3, 0.25)):
        phase = rng.uniform(0, 2 * np.pi, size=(count, 1))
        scale = amplitude * rng.uniform(0.8, 1.2, size=(count, 1))
        windows += scale * np.sin(harmonic * shaft * t + phase)
    windows += rng.normal(0, 0.05, size=windows.shape)
    return windows.astype(np.float32)


def faulty_windows(count: int, rng: np.random.Generator) -> np.ndarray:
    """Healthy signal plus a bearing-fault impulse train every 7-11 samples."""
    windows = healthy_windows(count, rng).astype(np.float64)
    for row in windows:
        period = int(rng.integers(7, 12))
        start = int(rng.integers(0, period))
        row[start::period] += rng.uniform(1.0, 2.0)
    return windows.astype(np.float32)


def build(path: Path, seed: int = 7) -> Path:
    """Fit the scorer on synthetic healthy data and write it as ONNX (opset 17)."""
    from onnx import TensorProto, helper, numpy_helper, save_model

    rng = np.random.default_rng(seed)
    train = healthy_windows(4096, rng).astype(np.float64)
    train -= train.mean(axis=1, keepdims=True)
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    basis = vt[:COMPONENTS].T
    residual = (train - mean) - (train - mean) @ basis @ basis.T
    threshold = float(np.quantile((residual ** 2).mean(axis=1), 0.995))

    def const(name: str, value: np.ndarray) -> TensorProto:
        return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)

    nodes = [
        helper.make_node("ReduceMean", ["vibration"], ["offset"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["vibration", "offset"], ["without_offset"]),
        helper.make_node("Sub", ["without_offset", "mean"], ["centered"]),
        helper.make_node("MatMul", ["centered", "basis"], ["codes"]),
        helper.make_node("MatMul", ["codes", "basis_t"], ["reconstructed"]),
        helper.make_node("Sub", ["centered", "reconstructed"], ["residual"]),
        helper.make_node("Mul", ["residual", "residual"], ["squared"]),
        helper.make_node("ReduceMean", ["squared"], ["error"], axes=[1], keepdims=0),
        helper.make_node("Div", ["error", "threshold"], ["anomaly_score"]),
        helper.make_node("Greater", ["anomaly_score", "one"], ["is_anomaly"]),
    ]
    graph = helper.make_graph(
        nodes, MODEL_NAME,
        inputs=[helper.make_tensor_value_info("vibration", TensorProto.FLOAT, ["batch", WINDOW])],
        outputs=[helper.make_tensor_value_info("anomaly_score", TensorProto.FLOAT, ["batch"]),
                 helper.make_tensor_value_info("is_anomaly", TensorProto.BOOL, ["batch"])],
        initializer=[const("mean", mean), const("basis", basis), const("basis_t", basis.T),
                     const("threshold", np.array(threshold)), const("one", np.array(1.0))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="ebb", model_version=1)
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as handle:
        save_model(model, handle.name)
    os.replace(handle.name, path)
    return path


def demo_model_path() -> Path:
    """The demo model's file, built into the cache on first use (no downloads)."""
    path = cache_dir() / _FILE
    if not path.exists():
        build(path)
    return path

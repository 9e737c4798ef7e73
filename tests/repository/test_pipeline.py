"""Pipelines: the docs' vibration alert (counts -> g, the demo scorer, a threshold) served as
one model, each step on its own queue; and the chain checks made when a pipeline loads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from ebb.core.types import ModelMetadata, TensorSpec
from ebb.repository.config import RepositoryError
from ebb.repository.pipeline import link
from ebb.runtime.demo import demo_model_path, faulty_windows, healthy_windows
from tests.conftest import RunningServer, start_server


def _meta(name: str, inputs: list[TensorSpec], outputs: list[TensorSpec],
          batch: int = 8) -> ModelMetadata:
    return ModelMetadata(name, tuple(inputs), tuple(outputs), max_batch_size=batch)


A = TensorSpec("a", "FP32", (-1, 4))
B = TensorSpec("b", "FP32", (-1, 4))


def test_steps_connect_by_name_or_one_to_one() -> None:
    pipeline = link("p", [_meta("one", [A], [B], 16), _meta("two", [A], [A], 4)])
    assert pipeline.steps == ("one", "two")
    assert pipeline.wiring == ({"a": "b"},)  # one output to one input, whatever the names
    assert pipeline.metadata.inputs == (A,) and pipeline.metadata.outputs == (A,)
    assert pipeline.metadata.max_batch_size == 4
    both = link("p", [_meta("one", [A], [A, B]), _meta("two", [B, A], [A])])
    assert both.wiring == ({"b": "b", "a": "a"},)


def test_a_broken_chain_is_refused_in_one_line() -> None:
    with pytest.raises(RepositoryError, match=r"step two needs input.s. x that step one does "
                                              "not produce"):
        link("p", [_meta("one", [A], [A, B]), _meta("two", [TensorSpec("x", "FP32", (-1, 4)),
                                                          A], [A])])
    with pytest.raises(RepositoryError, match=r"output b is FP32\[-1, 4\], step two input a "
                                              r"needs INT8\[-1, 4\]"):
        link("p", [_meta("one", [A], [B]), _meta("two", [TensorSpec("a", "INT8", (-1, 4))],
                                                 [A])])


def write_vibration_repository(root: Path) -> Path:
    """The example of docs/repository.md."""
    for name, source in (("counts_to_g", "CountsToG"), ("alert", "Threshold")):
        (root / name / "1").mkdir(parents=True)
        (root / name / "config.toml").write_text(
            f'source = "ebb.repository.examples:{source}"\n')
    (root / "scorer" / "1").mkdir(parents=True)
    (root / "scorer" / "1" / "model.onnx").write_bytes(demo_model_path().read_bytes())
    (root / "vibration_alert").mkdir()
    (root / "vibration_alert" / "config.toml").write_text(
        'steps = ["counts_to_g", "scorer", "alert"]\n')
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = write_vibration_repository(tmp_path_factory.mktemp("vibration"))
    running = start_server(root, str(root))
    yield running
    running.stop()


def _counts(windows: np.ndarray) -> list[int]:
    return [int(v) for v in np.round(windows * 1000).astype(np.int16).ravel()]


def test_the_pipeline_answers_as_one_model(server: RunningServer) -> None:
    rng = np.random.default_rng(3)
    windows = np.concatenate([healthy_windows(2, rng), faulty_windows(2, rng)])
    with httpx.Client(base_url=server.url, timeout=30) as http:
        meta = http.get("/v2/models/vibration_alert").json()
        assert meta["inputs"] == [{"name": "counts", "datatype": "INT16", "shape": [-1, 64]}]
        assert [out["name"] for out in meta["outputs"]] == ["alert", "anomaly_score"]
        assert http.get("/v2/models/vibration_alert/ready").json()["ready"] is True
        answer = http.post("/v2/models/vibration_alert/infer", json={"inputs": [
            {"name": "counts", "datatype": "INT16", "shape": [4, 64],
             "data": _counts(windows)}]})
        assert answer.status_code == 200, answer.text
        outputs = {out["name"]: out["data"] for out in answer.json()["outputs"]}
        assert outputs["alert"] == [False, False, True, True]
        assert answer.json()["model_name"] == "vibration_alert"
        wrong = http.post("/v2/models/vibration_alert/infer", json={"inputs": [
            {"name": "counts", "datatype": "FP32", "shape": [1, 64], "data": [0.0] * 64}]})
        assert wrong.status_code == 400
        assert "pipeline vibration_alert, step counts_to_g: input 'counts' must be INT16" in \
            wrong.json()["error"]
        stats = http.get("/v2/models/vibration_alert/stats").json()["model_stats"][0]
        assert stats["inference_stats"]["success"]["count"] == 1
        assert stats["inference_stats"]["fail"]["count"] == 1
        index = {(row["name"], row.get("version")) for row in
                 http.post("/v2/repository/index").json()}
        assert ("vibration_alert", "1") in index
        text = http.get("/metrics").text
        for step in ("counts_to_g", "scorer", "alert"):  # each step its own queue
            assert f'ebb_queue_depth{{model="{step}"}}' in text

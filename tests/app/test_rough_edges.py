"""Rough edges of issue 14 that live in the app: input casting (12), the local Prometheus of
``ebb serve --prometheus`` (13), the banner (10), and KServe V1 answers for scikit-learn (17)."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import httpx
import numpy as np
import pytest

from ebb.app.casting import cast_request, cast_value
from ebb.banner import banner
from ebb.config import load_settings
from ebb.core.errors import InvalidInput
from ebb.core.types import InferRequest, ModelMetadata, Tensor, TensorSpec
from ebb.serving.dispatcher import validate
from tests.conftest import start_server

META = ModelMetadata("m", (TensorSpec("x", "FP32", (-1, 2)), TensorSpec("n", "INT32", (-1,))),
                     (TensorSpec("y", "FP32", (-1,)),), max_batch_size=8)


def _tensor(name: str, datatype: str, values: list[float], dtype: str) -> Tensor:
    return Tensor(name, datatype, np.array(values, dtype=dtype))


def test_strict_datatypes_say_how_to_cast() -> None:
    request = InferRequest("m", (_tensor("x", "FP64", [[1.0, 2.0]], "float64"),
                                 _tensor("n", "INT32", [1], "int32")))
    with pytest.raises(InvalidInput, match=r"must be FP32, got FP64 .*--cast-inputs"):
        validate(request, META)
    cast = cast_request(request, META)
    assert cast.inputs[0].datatype == "FP32" and cast.inputs[0].data.dtype == np.float32
    assert validate(cast, META)[0] == 1


def test_casts_are_refused_when_a_value_would_change() -> None:
    assert cast_value(_tensor("n", "INT64", [2**31 - 1], "int64"), "INT32").data.dtype == (
        np.int32)
    assert cast_value(_tensor("x", "INT64", [3], "int64"), "FP32").data.tolist() == [3.0]
    assert cast_value(_tensor("x", "FP64", [np.inf], "float64"), "FP32").data.tolist() == [
        np.inf]
    with pytest.raises(InvalidInput, match="outside INT32's range"):
        cast_value(_tensor("n", "INT64", [2**31], "int64"), "INT32")
    with pytest.raises(InvalidInput, match="outside FP32's range"):
        cast_value(_tensor("x", "FP64", [1e300], "float64"), "FP32")
    with pytest.raises(InvalidInput, match="floats are never converted to integers"):
        cast_value(_tensor("n", "FP32", [1.0], "float32"), "INT32")
    text = Tensor("s", "BYTES", np.array([b"a"], dtype=object))
    assert cast_value(text, "FP32") is text  # left for validation to refuse


def test_local_prometheus_prefers_9090_and_leaves_nothing_behind() -> None:
    from ebb.deploy.local import PROMETHEUS_PORT, ServePrometheus

    if shutil.which("prometheus") is None:
        pytest.skip("Debian's prometheus is missing: `make test` installs it")
    settings = load_settings({"prometheus": True})
    assert ServePrometheus(load_settings({})).start(8080) == []
    with socket.socket() as probe:
        free = probe.connect_ex(("127.0.0.1", PROMETHEUS_PORT)) != 0
    local = ServePrometheus(settings)
    try:
        (line,) = local.start(8080)
        rules = local.rules_dir
        assert rules is not None and any(rules.iterdir())
        assert line.startswith("Prometheus http://127.0.0.1:")
        assert (f"127.0.0.1:{PROMETHEUS_PORT} " in line) == free  # 9090 whenever it is free
    finally:
        local.stop()
    assert not rules.exists()


def test_banner_lists_extra_lines_before_ctrl_c_and_only_installed_tools() -> None:
    settings = load_settings({})
    meta = ModelMetadata("double", (TensorSpec("INPUT0", "FP32", (-1, 2)),),
                         (TensorSpec("OUTPUT0", "FP32", (-1, 2)),), max_batch_size=8)
    text = banner("9", [meta], settings, 8080, 8081, ["Prometheus http://127.0.0.1:9090"])
    lines = text.splitlines()
    assert lines[-1].startswith("Ctrl-C stops")
    assert lines[-2] == "  Prometheus http://127.0.0.1:9090"
    assert "tritonclient" not in text and "[...]" not in text
    assert '"shape":[1, 2],"data":[0.5,0.5]' in text
    assert "ebb load http://127.0.0.1:8080 --model double" in text


def test_v1_predict_answers_a_plain_list_as_kserve_sklearn(tmp_path: Path) -> None:
    import joblib
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3))
    joblib.dump(LogisticRegression().fit(features, (features[:, 0] > 0).astype(np.int64)),
                tmp_path / "clf.joblib")
    server = start_server(tmp_path, str(tmp_path / "clf.joblib"), "--trust-pickle")
    try:
        response = httpx.post(f"{server.url}/v1/models/clf:predict",
                              json={"instances": [[3.0, 0, 0], [-3.0, 0, 0]]}, timeout=30)
        assert response.json() == {"predictions": [1, 0]}
    finally:
        assert server.stop() == 0

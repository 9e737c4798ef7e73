from __future__ import annotations

import numpy as np
import pytest

from ebb.core.errors import InvalidInput
from ebb.core.types import InferRequest, ModelMetadata, RequestedOutput, Tensor, TensorSpec
from ebb.serving.dispatcher import validate

META = ModelMetadata("m", (TensorSpec("x", "FP32", (-1, 2)), TensorSpec("y", "INT64", (-1,))),
                     (TensorSpec("out", "FP32", (-1,)),), max_batch_size=8)


def _request(rows: int, outputs: tuple[RequestedOutput, ...] = ()) -> InferRequest:
    return InferRequest("m", (Tensor("x", "FP32", np.zeros((rows, 2), np.float32)),
                              Tensor("y", "INT64", np.zeros(rows, np.int64))), outputs=outputs)


def test_rows_and_signature_of_a_valid_request() -> None:
    rows, signature = validate(_request(3), META)
    assert rows == 3
    assert signature == (("x", "FP32", (2,)), ("y", "INT64", ()))


def test_batch_over_the_models_limit_is_refused() -> None:
    with pytest.raises(InvalidInput, match="20 rows is over model 'm'"):
        validate(_request(20), META)


def test_inputs_must_agree_on_the_batch_size() -> None:
    request = InferRequest("m", (Tensor("x", "FP32", np.zeros((2, 2), np.float32)),
                                 Tensor("y", "INT64", np.zeros(3, np.int64))))
    with pytest.raises(InvalidInput, match="same batch size"):
        validate(request, META)


def test_unknown_requested_output_is_named() -> None:
    with pytest.raises(InvalidInput, match="no output 'nope'"):
        validate(_request(1, (RequestedOutput("nope"),)), META)

"""Identity models for protocol conformance tests: every Open Inference Protocol datatype.

``Identity`` has one input ``IN_<DATATYPE>`` per OIP datatype, each ``[-1, -1]``, and answers each
unchanged as ``OUT_<DATATYPE>``, so one request round-trips every datatype through a real
``ebb serve``. gRPC's typed ``contents`` have no FP16 field, so ``IdentityTyped`` is the same model
without FP16. Served as ``ebb serve tests.protocol.identity_models:Identity`` with the repository
root on PYTHONPATH.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tests.protocol._tensors import CONTENTS_FIELD, DATATYPES


def _specs(prefix: str, datatypes: tuple[str, ...]) -> list[tuple[str, str, tuple[int, ...]]]:
    return [(f"{prefix}_{datatype}", datatype, (-1, -1)) for datatype in datatypes]


class Identity:
    """Every OIP datatype in, the same tensors out; batchable along dimension 0."""

    name = "identity"
    platform = "ebb_test"
    inputs = _specs("IN", DATATYPES)
    outputs = _specs("OUT", DATATYPES)
    max_batch_size = 8

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"OUT" + name.removeprefix("IN"): array for name, array in inputs.items()}


class IdentityTyped(Identity):
    """``Identity`` without FP16, for gRPC requests that carry typed ``contents``."""

    name = "identity_typed"
    inputs = _specs("IN", tuple(CONTENTS_FIELD))
    outputs = _specs("OUT", tuple(CONTENTS_FIELD))

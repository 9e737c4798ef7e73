"""Routing by name and version, in process (no worker is started): what a request reaches."""

from __future__ import annotations

import dataclasses

import pytest

from ebb.core.errors import ModelNotFound
from ebb.core.types import ModelMetadata, TensorSpec
from ebb.repository.dispatcher import RepositoryDispatcher, served_key
from ebb.repository.pipeline import link
from ebb.runtime.python_class import PythonClassSource
from ebb.serving.batching import BatchPolicy
from ebb.serving.dispatcher import ServedModel
from ebb.serving.stats import NullObserver

SPEC = TensorSpec("INPUT0", "FP32", (-1, 16))


def _served(version: str) -> ServedModel:
    metadata = ModelMetadata("double", (SPEC,), (SPEC,), (version,), "ebb_builtin", 8)
    return ServedModel.create(PythonClassSource("ebb.runtime.builtin:DoubleModel"), metadata,
                              BatchPolicy(8, 0.001), 16, None, False, NullObserver(), None)


def test_requests_without_a_version_reach_the_latest() -> None:
    dispatcher = RepositoryDispatcher({})
    versions = {"10": _served("10"), "2": _served("2")}
    dispatcher.publish("double", versions)
    assert dispatcher.model("double") is versions["10"]  # 10 > 2: numbers, not strings
    assert dispatcher.model("double", "2") is versions["2"]
    assert dispatcher.metadata("double").versions == ("2", "10")
    assert dispatcher.metadata("double", "2").versions == ("2",)
    assert dispatcher.model_names() == ("double",)
    assert dispatcher.latest_version("double") == "10"
    with pytest.raises(ModelNotFound, match="has no version '3' served; versions: 2, 10"):
        dispatcher.model("double", "3")
    dispatcher.withdraw("double")
    assert dispatcher.model_names() == ()
    with pytest.raises(ModelNotFound, match="'double' is not served here; models: none"):
        dispatcher.metadata("double")


def test_served_keys_name_versions_only_when_there_are_several() -> None:
    assert served_key("double", "1", several=False) == "double"
    assert served_key("double", "2", several=True) == "double/2"


def test_a_pipeline_is_routed_by_its_name() -> None:
    dispatcher = RepositoryDispatcher({})
    dispatcher.publish("double", {"1": _served("1")})
    step = dispatcher.metadata("double")
    dispatcher.publish_pipeline(link("twice", [step, dataclasses.replace(step, name="double")]))
    assert dispatcher.model_names() == ("double", "twice")
    assert dispatcher.metadata("twice").inputs == (SPEC,)
    assert dispatcher.metadata("twice", "1").platform == "ebb_pipeline"
    assert dispatcher.latest_version("twice") == "1"
    assert dispatcher.metadata("twice").max_batch_size == 8  # its steps' smallest

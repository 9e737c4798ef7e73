"""Models given as ``module:Class`` (and the built-in ones, which are such classes)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ebb.core.errors import EbbError
from ebb.core.types import ModelMetadata, TensorSpec
from ebb.runtime.base import ModelRuntime


class ModelLoadError(EbbError):
    """A model could not be found, described or loaded."""


@dataclass(frozen=True)
class PythonClassSource:
    target: str
    """``module:Class``"""
    name: str | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    search_path: str | None = None
    """A directory put first on ``sys.path`` before importing, in the gateway and in each
    worker: the directory ``ebb serve`` ran in, as ``python -m`` does."""

    def _class(self) -> type:
        module_name, _, class_name = self.target.partition(":")
        if not module_name or not class_name:
            raise ModelLoadError(f"model class must be given as module:Class, not {self.target!r}")
        if self.search_path is not None and self.search_path not in sys.path:
            sys.path.insert(0, self.search_path)
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ModelLoadError(f"cannot import {module_name!r}: {error} (searched the current "
                                 "directory first, then the installed packages)") from None
        try:
            cls: type = getattr(module, class_name)
        except AttributeError:
            raise ModelLoadError(f"module {module_name!r} has no class {class_name!r}") from None
        return cls

    def describe(self) -> ModelMetadata:
        cls = self._class()
        if hasattr(cls, "metadata_for"):
            metadata: ModelMetadata = cls.metadata_for(**self.kwargs)
        else:
            metadata = metadata_from_class(cls)
        if self.name:
            metadata = ModelMetadata(self.name, metadata.inputs, metadata.outputs,
                                     metadata.versions, metadata.platform, metadata.max_batch_size)
        return metadata

    def load(self) -> ModelRuntime:
        instance: ModelRuntime = self._class()(**self.kwargs)
        return instance


def metadata_from_class(cls: type) -> ModelMetadata:
    for attribute in ("inputs", "outputs", "infer"):
        if not hasattr(cls, attribute):
            raise ModelLoadError(f"model class {cls.__name__} has no {attribute!r}; see "
                                 "ebb.runtime.base for the interface")
    return ModelMetadata(
        name=getattr(cls, "name", cls.__name__.lower()),
        versions=(str(getattr(cls, "version", "1")),),
        platform=getattr(cls, "platform", "python"),
        inputs=tuple(_spec(item) for item in cls.inputs),  # type: ignore[attr-defined]
        outputs=tuple(_spec(item) for item in cls.outputs),  # type: ignore[attr-defined]
        max_batch_size=int(getattr(cls, "max_batch_size", 0)),
    )


def _spec(item: Any) -> TensorSpec:
    if isinstance(item, TensorSpec):
        return item
    name, datatype, shape = item
    return TensorSpec(str(name), str(datatype), tuple(int(dim) for dim in shape))

"""A repository model's ``config.toml``: parsed and checked once, at the edge. Pure.

    name = "scorer"              # default: the directory's name
    max_batch_size = 16          # rows per batch (the model's own limit still applies)
    max_batch_delay_ms = 2
    max_queue_size = 1024
    workers = 1
    version_policy = "latest"    # "latest" (with latest = N, default 1), "all", "specific"
    latest = 1
    versions = [1, 3]            # with "specific"
    source = "builtin:double"    # for versions whose directory holds no model file
    [[input]]                    # optional: checked against what the model declares
    name = "x"
    datatype = "FP32"
    shape = [-1, 16]

Every mistake is one ``RepositoryError`` line naming the file and the key.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from typing import Any

from ebb.core.errors import InvalidInput
from ebb.core.types import TensorSpec

CONFIG_FILE = "config.toml"
POLICIES = ("latest", "all", "specific")
_SERVING_KEYS = ("max_batch_size", "max_batch_delay_ms", "max_queue_size", "workers")
_KEYS = ("name", "version_policy", "latest", "versions", "source", "input", "output",
         "steps", *_SERVING_KEYS)


class RepositoryError(InvalidInput):
    """A repository directory or config file Ebb cannot serve (a client's 400 on load)."""


@dataclass(frozen=True)
class VersionPolicy:
    """Which versions on disk are served: Triton's all / latest N / specific."""

    kind: str = "latest"
    latest: int = 1
    versions: tuple[str, ...] = ()

    def select(self, available: list[str]) -> list[str]:
        """The served versions of ``available`` (numeric names), oldest first."""
        ordered = sorted(available, key=int)
        if self.kind == "all":
            return ordered
        if self.kind == "specific":
            return [v for v in ordered if v in self.versions]
        return ordered[-self.latest:]

    def describe(self) -> tuple[str, tuple[str, ...]]:
        if self.kind == "latest":
            return "latest", (str(self.latest),)
        return self.kind, self.versions if self.kind == "specific" else ()


@dataclass(frozen=True)
class ModelConfigFile:
    """What a model's ``config.toml`` says; every field optional."""

    name: str | None = None
    policy: VersionPolicy = VersionPolicy()
    serving: dict[str, Any] = field(default_factory=dict)
    """``ServeSettings`` fields that override the server's for this model."""
    source: str | None = None
    inputs: tuple[TensorSpec, ...] | None = None
    outputs: tuple[TensorSpec, ...] | None = None
    steps: tuple[str, ...] = ()
    """A pipeline's step models, in order (see ``ebb.repository.pipeline``)."""


def parse_config(text: str, where: str) -> ModelConfigFile:
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RepositoryError(f"{where} is not valid TOML: {error}") from None
    for key in values:
        if key not in _KEYS:
            close = difflib.get_close_matches(key, _KEYS, 1)
            hint = f"; did you mean {close[0]}?" if close else f"; keys: {', '.join(_KEYS)}"
            raise RepositoryError(f"unknown key {key} in {where}{hint}")
    serving = {key: _positive(values[key], key, where) for key in _SERVING_KEYS if key in values}
    return ModelConfigFile(
        name=_text(values, "name", where), policy=_policy(values, where), serving=serving,
        source=_text(values, "source", where),
        inputs=_specs(values["input"], "input", where) if "input" in values else None,
        outputs=_specs(values["output"], "output", where) if "output" in values else None,
        steps=tuple(_step_names(values.get("steps", []), where)))


def _text(values: dict[str, Any], key: str, where: str) -> str | None:
    value = values.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise RepositoryError(f"{key} in {where} must be a non-empty string, not {value!r}")
    return value


def _positive(value: Any, key: str, where: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RepositoryError(f"{key} in {where} must be a number >= 0, not {value!r}")
    return value


def _policy(values: dict[str, Any], where: str) -> VersionPolicy:
    kind = values.get("version_policy", "latest")
    if kind not in POLICIES:
        raise RepositoryError(f"version_policy in {where} must be one of {', '.join(POLICIES)}, "
                              f"not {kind!r}")
    latest = values.get("latest", 1)
    if isinstance(latest, bool) or not isinstance(latest, int) or latest < 1:
        raise RepositoryError(f"latest in {where} must be a whole number >= 1, not {latest!r}")
    versions = values.get("versions", [])
    if not isinstance(versions, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in versions):
        raise RepositoryError(f"versions in {where} must be a list of version numbers, "
                              f"not {versions!r}")
    if kind == "specific" and not versions:
        raise RepositoryError(f"version_policy \"specific\" in {where} needs versions = [...]")
    return VersionPolicy(kind, latest, tuple(str(v) for v in versions))


def _specs(items: Any, key: str, where: str) -> tuple[TensorSpec, ...]:
    if not isinstance(items, list):
        raise RepositoryError(f"{key} in {where} must be an array of tables ([[{key}]])")
    specs = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"name", "datatype", "shape"}:
            raise RepositoryError(f"each [[{key}]] in {where} needs exactly name, datatype "
                                  "and shape")
        shape = item["shape"]
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= -1 for d in shape):
            raise RepositoryError(f"[[{key}]] {item['name']!r} in {where}: shape must be a list "
                                  "of sizes (-1: any size)")
        specs.append(TensorSpec(str(item["name"]), str(item["datatype"]), tuple(shape)))
    return tuple(specs)


def _step_names(steps: Any, where: str) -> list[str]:
    if not isinstance(steps, list) or not all(isinstance(s, str) and s for s in steps):
        raise RepositoryError(f"steps in {where} must be a list of model names")
    return list(steps)


def check_declared(declared: tuple[TensorSpec, ...] | None, actual: tuple[TensorSpec, ...],
                   kind: str, model: str) -> None:
    """A config's declared inputs/outputs must say what the model itself says."""
    if declared is None:
        return
    if {spec.name for spec in declared} != {spec.name for spec in actual}:
        raise RepositoryError(f"model {model}: config declares {kind}s "
                              f"{sorted(s.name for s in declared)}, the model has "
                              f"{sorted(s.name for s in actual)}")
    by_name = {spec.name: spec for spec in actual}
    for spec in declared:
        real = by_name[spec.name]
        same_shape = len(spec.shape) == len(real.shape) and all(
            a in (-1, b) or b == -1 for a, b in zip(spec.shape, real.shape, strict=True))
        if spec.datatype != real.datatype or not same_shape:
            raise RepositoryError(f"model {model}: config declares {kind} {spec.name} as "
                                  f"{spec.datatype}{list(spec.shape)}, the model has "
                                  f"{real.datatype}{list(real.shape)}")

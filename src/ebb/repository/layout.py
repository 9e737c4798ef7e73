"""Read a model repository directory (Triton's layout) into one ``ModelPlan`` per model.

    DIR/<model>/config.toml          optional (``ebb.repository.config``)
    DIR/<model>/<version>/<file>     version: a whole number; file: .onnx, .joblib/.pkl, .pt

A model that cannot be read is kept as a problem (its reason shows in the repository index)
rather than failing the others. Models given one by one on the command line become plans too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ebb.core.errors import EbbError
from ebb.repository.config import CONFIG_FILE, ModelConfigFile, RepositoryError, parse_config
from ebb.runtime.base import ModelSource
from ebb.runtime.loaders import resolve

MODEL_SUFFIXES = frozenset({".onnx", ".joblib", ".pkl", ".pickle", ".pt", ".pth",
                            ".torchscript"})


@dataclass(frozen=True)
class ModelPlan:
    """How to serve one model: its sources by version and its configuration."""

    name: str
    versions: Mapping[str, ModelSource]
    config: ModelConfigFile = field(default_factory=ModelConfigFile)

    def served_versions(self) -> list[str]:
        """The versions the policy serves, oldest first."""
        return self.config.policy.select(list(self.versions))


@dataclass(frozen=True)
class Scan:
    plans: dict[str, ModelPlan]
    problems: dict[str, str]
    """Model name -> why it cannot be served."""


def scan_repository(root: Path, trust_pickle: bool = False) -> Scan:
    """Every model directory under ``root``; hidden and ``_``-prefixed entries are skipped."""
    if not root.is_dir():
        raise RepositoryError(f"model repository {root} is not a directory")
    plans: dict[str, ModelPlan] = {}
    problems: dict[str, str] = {}
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.name.startswith((".", "_")):
            continue
        try:
            plan = read_model_dir(folder, trust_pickle)
        except EbbError as error:
            problems[folder.name] = error.message
            continue
        if plan.name in plans:
            problems[plan.name] = f"two model directories are named {plan.name}"
            continue
        plans[plan.name] = plan
    return Scan(plans, problems)


def read_model_dir(folder: Path, trust_pickle: bool) -> ModelPlan:
    config_path = folder / CONFIG_FILE
    config = ModelConfigFile()
    if config_path.is_file():
        config = parse_config(config_path.read_text(), str(config_path))
    name = config.name or folder.name
    if config.steps:
        return ModelPlan(name, {}, config)  # a pipeline: its steps are other models
    versions: dict[str, ModelSource] = {}
    for entry in folder.iterdir():
        if entry.is_dir() and entry.name.isdigit() and int(entry.name) > 0:
            versions[str(int(entry.name))] = _version_source(entry, name, config, trust_pickle)
    if not versions:
        raise RepositoryError(f"model directory {folder} has no version directory "
                              f"({folder}/1/model.onnx, for example)")
    plan = ModelPlan(name, versions, config)
    if not plan.served_versions():
        raise RepositoryError(f"model {name}: version policy {config.policy.describe()} "
                              f"matches none of the versions on disk "
                              f"({', '.join(sorted(versions, key=int))})")
    return plan


def _version_source(folder: Path, name: str, config: ModelConfigFile,
                    trust_pickle: bool) -> ModelSource:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES]
    if len(files) == 1:
        return resolve(str(files[0]), name, trust_pickle)
    if len(files) > 1:
        raise RepositoryError(f"version directory {folder} holds several model files "
                              f"({', '.join(sorted(p.name for p in files))}); keep one")
    if config.source is not None:
        return resolve(config.source, name, trust_pickle)
    raise RepositoryError(f"version directory {folder} holds no model file (.onnx, .joblib, "
                          ".pkl, .pt) and config.toml names no source")


def plan_of_source(source: ModelSource) -> ModelPlan:
    """A model given on the command line: one version, the server's settings."""
    metadata = source.describe()
    return ModelPlan(metadata.name, {metadata.version or "1": source})


def plans_of_specs(specs: list[str], trust_pickle: bool) -> Scan:
    """``ebb serve A B C``: each a model spec or a repository directory."""
    plans: dict[str, ModelPlan] = {}
    problems: dict[str, str] = {}
    for spec in specs:
        if Path(spec).is_dir():
            scan = scan_repository(Path(spec), trust_pickle)
            found, problems = {**scan.plans}, {**problems, **scan.problems}
        else:
            plan = plan_of_source(resolve(spec, None, trust_pickle))
            found = {plan.name: plan}
        for name, plan in found.items():
            if name in plans:
                raise RepositoryError(f"two models are named {name}; give one a --name or "
                                      "a config.toml name")
            plans[name] = plan
    return Scan(plans, problems)

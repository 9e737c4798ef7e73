"""What ``ebb serve`` serves, from its settings: the catalog a ``ModelRepository`` reads.

``ebb serve`` (the demo model), ``ebb serve MODEL``, ``ebb serve A B C`` and ``ebb serve DIR``
all become one catalog: models given by file or spec are resolved once; repository directories
are read again on every call, so a load after a change on disk sees it (as Triton does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from ebb.config import ServeSettings
from ebb.repository.config import RepositoryError
from ebb.repository.layout import ModelPlan, Scan, plan_of_source, scan_repository
from ebb.runtime.base import ModelSource
from ebb.runtime.loaders import resolve

Catalog = Callable[[], Scan]


def serve_catalog(settings: ServeSettings) -> Catalog:
    """The catalog of the settings' models; raises one line when a model cannot be served."""
    specs = settings.models or ([settings.model] if settings.model else [])
    if len(specs) > 1 and settings.name:
        raise RepositoryError("--name names one model; with several, name each in its "
                              "repository's config.toml")
    fixed: dict[str, ModelPlan] = {}
    folders: list[Path] = []
    wanted: list[str | None] = [*specs] or [None]
    for spec in wanted:
        if spec is not None and Path(spec).is_dir():
            if settings.name:
                raise RepositoryError(f"--name names one model; the models of {spec} are "
                                      "named by their directories or config.toml")
            folders.append(Path(spec))
            continue
        if spec is not None and ":" not in spec and spec != "demo" and not Path(spec).exists() \
                and not Path(spec).suffix:
            raise RepositoryError(f"{spec} does not exist: give a model file, a model "
                                  "repository directory, builtin:NAME or module:Class")
        plan = plan_of_source(resolve(spec, settings.name, settings.trust_pickle))
        _add(fixed, plan)

    def catalog() -> Scan:
        plans = dict(fixed)
        problems: dict[str, str] = {}
        for folder in folders:
            scan = scan_repository(folder, settings.trust_pickle)
            problems.update(scan.problems)
            for plan in scan.plans.values():
                if plan.name in plans:
                    problems[plan.name] = f"two models are named {plan.name}"
                else:
                    plans[plan.name] = plan
        return Scan(plans, problems)

    first = catalog()
    if first.problems:
        raise RepositoryError("; ".join(f"model {name}: {why}"
                                        for name, why in sorted(first.problems.items())))
    if not first.plans:
        raise RepositoryError(f"no model to serve in {', '.join(map(str, folders))}: a "
                              "repository holds DIR/<model>/<version>/<file> "
                              "(docs/repository.md)")
    return catalog


def _add(plans: dict[str, ModelPlan], plan: ModelPlan) -> None:
    if plan.name in plans:
        raise RepositoryError(f"two models are named {plan.name}; serve one from a repository "
                              "directory with a config.toml name")
    plans[plan.name] = plan


def fixed_catalog(sources: Iterable[ModelSource]) -> Catalog:
    """Models given as sources (tests, embedding): one version each, never re-read."""
    plans: dict[str, ModelPlan] = {}
    for source in sources:
        _add(plans, plan_of_source(source))
    scan = Scan(plans, {})
    return lambda: scan

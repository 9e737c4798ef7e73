"""Reading a repository directory: models, versions, configs, and the problems of broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from ebb.config import ServeSettings
from ebb.repository.catalog import serve_catalog
from ebb.repository.config import RepositoryError
from ebb.repository.layout import scan_repository
from ebb.runtime.demo import demo_model_path


def _model(root: Path, name: str, versions: list[int], config: str | None = None,
           onnx: bool = False) -> None:
    for version in versions:
        folder = root / name / str(version)
        folder.mkdir(parents=True)
        if onnx:
            (folder / "model.onnx").write_bytes(demo_model_path().read_bytes())
    if config is not None:
        (root / name / "config.toml").write_text(config)


def test_models_versions_and_configs(tmp_path: Path) -> None:
    _model(tmp_path, "scorer", [1, 2], onnx=True)
    _model(tmp_path, "twice", [1, 2, 3], 'source = "builtin:double"\nversion_policy = "all"\n'
           'name = "doubler"\nmax_batch_size = 4\n')
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "README.md").write_text("not a model")
    scan = scan_repository(tmp_path)
    assert scan.problems == {}
    assert sorted(scan.plans) == ["doubler", "scorer"]
    assert scan.plans["scorer"].served_versions() == ["2"]
    assert scan.plans["doubler"].served_versions() == ["1", "2", "3"]
    assert scan.plans["doubler"].config.serving == {"max_batch_size": 4}
    assert scan.plans["scorer"].versions["2"].describe().name == "scorer"  # not the graph's


def test_broken_models_are_problems_not_failures(tmp_path: Path) -> None:
    _model(tmp_path, "good", [1], onnx=True)
    _model(tmp_path, "empty", [1])
    (tmp_path / "noversions").mkdir()
    _model(tmp_path, "typo", [1], "sorce = 'builtin:double'\n")
    _model(tmp_path, "nomatch", [1], 'source = "builtin:double"\nversion_policy = "specific"\n'
           'versions = [4]\n')
    scan = scan_repository(tmp_path)
    assert list(scan.plans) == ["good"]
    assert "holds no model file" in scan.problems["empty"]
    assert "has no version directory" in scan.problems["noversions"]
    assert "did you mean source?" in scan.problems["typo"]
    assert "matches none of the versions on disk (1)" in scan.problems["nomatch"]


def test_serve_refuses_a_broken_repository_in_one_line(tmp_path: Path) -> None:
    _model(tmp_path, "good", [1], onnx=True)
    _model(tmp_path, "empty", [1])
    with pytest.raises(RepositoryError, match=r"model empty: version directory .* holds no"):
        serve_catalog(ServeSettings(model=str(tmp_path)))
    with pytest.raises(RepositoryError, match="no model to serve"):
        serve_catalog(ServeSettings(model=str(tmp_path / "empty" / "1")))


def test_several_models_and_repositories_make_one_catalog(tmp_path: Path) -> None:
    _model(tmp_path, "scorer", [1], onnx=True)
    catalog = serve_catalog(ServeSettings(models=[str(tmp_path), "builtin:double"]))
    assert sorted(catalog().plans) == ["double", "scorer"]
    _model(tmp_path, "later", [1], 'source = "builtin:double"\n')
    assert sorted(catalog().plans) == ["double", "later", "scorer"]  # read again on each call
    with pytest.raises(RepositoryError, match="two models are named double"):
        serve_catalog(ServeSettings(models=["builtin:double", "builtin:double"]))
    with pytest.raises(RepositoryError, match="--name names one model"):
        serve_catalog(ServeSettings(models=["builtin:double", "builtin:sleep"], name="x"))
    with pytest.raises(RepositoryError, match="named by their directories"):
        serve_catalog(ServeSettings(model=str(tmp_path), name="x"))

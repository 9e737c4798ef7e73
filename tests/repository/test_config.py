"""A repository model's config.toml: what it accepts, and one clear line for each mistake."""

from __future__ import annotations

import pytest

from ebb.core.types import TensorSpec
from ebb.repository.config import RepositoryError, VersionPolicy, check_declared, parse_config

WHERE = "repo/m/config.toml"


def test_every_key() -> None:
    config = parse_config('''
name = "scorer"
max_batch_size = 16
max_batch_delay_ms = 2.5
workers = 2
version_policy = "specific"
versions = [1, 3]
source = "builtin:double"
[[input]]
name = "x"
datatype = "FP32"
shape = [-1, 4]
''', WHERE)
    assert config.name == "scorer"
    assert config.serving == {"max_batch_size": 16, "max_batch_delay_ms": 2.5, "workers": 2}
    assert config.policy == VersionPolicy("specific", 1, ("1", "3"))
    assert config.source == "builtin:double"
    assert config.inputs == (TensorSpec("x", "FP32", (-1, 4)),)
    assert config.outputs is None


def test_an_empty_file_means_the_defaults() -> None:
    config = parse_config("", WHERE)
    assert config.name is None and config.serving == {} and config.policy.kind == "latest"


@pytest.mark.parametrize(("text", "says"), [
    ("max_batch = 4", "unknown key max_batch in repo/m/config.toml; did you mean max_batch_size?"),
    ("version_policy = 'newest'", "version_policy in repo/m/config.toml must be one of"),
    ("version_policy = 'specific'", "needs versions = [...]"),
    ("latest = 0", "latest in repo/m/config.toml must be a whole number >= 1"),
    ("versions = ['a']", "must be a list of version numbers"),
    ("workers = -1", "workers in repo/m/config.toml must be a number >= 0"),
    ("name = ''", "name in repo/m/config.toml must be a non-empty string"),
    ("[[input]]\nname = 'x'", "needs exactly name, datatype and shape"),
    ("name = ", "is not valid TOML"),
])
def test_mistakes_are_one_line(text: str, says: str) -> None:
    with pytest.raises(RepositoryError) as caught:
        parse_config(text, WHERE)
    assert says in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(("policy", "served"), [
    (VersionPolicy(), ["10"]),
    (VersionPolicy("latest", 2), ["3", "10"]),
    (VersionPolicy("all"), ["1", "3", "10"]),
    (VersionPolicy("specific", versions=("1", "10", "7")), ["1", "10"]),
])
def test_version_policies_order_versions_by_number(policy: VersionPolicy,
                                                   served: list[str]) -> None:
    assert policy.select(["10", "1", "3"]) == served


def test_declared_tensors_must_match_the_model() -> None:
    actual = (TensorSpec("x", "FP32", (-1, 4)),)
    check_declared(None, actual, "input", "m")
    check_declared((TensorSpec("x", "FP32", (-1, -1)),), actual, "input", "m")
    with pytest.raises(RepositoryError, match="declares input x as FP64"):
        check_declared((TensorSpec("x", "FP64", (-1, 4)),), actual, "input", "m")
    with pytest.raises(RepositoryError, match="declares inputs"):
        check_declared((TensorSpec("y", "FP32", (-1, 4)),), actual, "input", "m")

"""The package's public surface is what ``__all__`` lists, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import ebb.anomaly


def test_every_listed_name_resolves() -> None:
    assert len(set(ebb.anomaly.__all__)) == len(ebb.anomaly.__all__)   # ruff keeps the order
    for name in ebb.anomaly.__all__:
        assert hasattr(ebb.anomaly, name)


def test_importing_the_package_pulls_in_nothing_heavy() -> None:
    code = ("import sys, ebb.anomaly; "
            "print(sorted({'matplotlib', 'prometheus_client', 'ebb.serving', 'ebb.app'} "
            "& set(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"

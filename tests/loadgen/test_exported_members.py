"""The package's public surface is what ``__all__`` lists, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import ebb.loadgen


def test_every_listed_name_resolves() -> None:
    assert sorted(ebb.loadgen.__all__) == ebb.loadgen.__all__
    for name in ebb.loadgen.__all__:
        assert getattr(ebb.loadgen, name).__name__ == name


def test_the_command_module_does_not_pull_in_the_network_stack() -> None:
    code = ("import sys, ebb.loadgen.command; "
            "print(sorted({'grpc', 'httpx', 'matplotlib'} & set(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"

"""Small modules with one job: no function over 60 lines, no module over 400 (generated code
aside). A failure names the offender; split it along the jobs it does."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "ebb"
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def _modules() -> list[Path]:
    return [path for path in sorted(SRC.rglob("*.py")) if "_generated" not in path.parts]


def test_no_function_is_over_60_lines() -> None:
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({length})")
    assert not long, "functions over 60 lines: " + ", ".join(long)


def test_no_module_is_over_400_lines() -> None:
    big = [f"{path.relative_to(SRC)} ({count})" for path in _modules()
           if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES]
    assert not big, "modules over 400 lines: " + ", ".join(big)

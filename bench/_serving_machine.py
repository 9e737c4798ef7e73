"""Facts about the machine and the tools a benchmark ran with, for its report."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def tool_version(argv: Sequence[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "?"


def ebb_revision() -> str:
    """The commit of the checkout Ebb runs from, and whether its sources differ from it."""
    repo = BENCH.parent
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=30, check=True).stdout
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown revision"
    return f"commit {head.strip()}" + (" with uncommitted changes in src/" if dirty else "")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"

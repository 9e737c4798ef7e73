"""``bench/reliability.py`` end to end on its smallest experiment (SIGTERM with queued REST and
gRPC work, --quick): the command runs, measures, and writes its table; the full run is the
benchmark itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(60)
def test_the_sigterm_experiment_runs_and_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "reliability.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "reliability.py"), "--quick", "--only", "sigterm",
         "--out", str(out)], capture_output=True, text=True, timeout=50, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = out.read_text()
    assert "| SIGTERM with queued work | 16 requests queued (REST + gRPC) | 1 SIGTERM (" in table
    assert "| 0 of 16 |" in table
    assert "exit code 0" in table
    assert "SIGTERM with" in result.stdout  # progress lines as it goes

"""`ebb sim` end to end through its argument parser: JSON shape, report files, errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from ebb.sim.command import add_arguments, run


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ebb sim")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def test_json_summary_has_the_documented_shape(capsys: pytest.CaptureFixture[str]) -> None:
    status = _run(["--synthetic", "spike", "--rate", "40", "--duration", "30",
                   "--policy", "ebb", "--policy", "hpa", "--cold-start-s", "1", "--json",
                   "--quiet"])
    assert status == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) >= {"trace", "slo_ms", "oracle", "policies"}
    assert doc["slo_ms"] == 100  # the one SLO default of every command
    assert doc["oracle"]["worker_seconds"] > 0
    assert set(doc["policies"]) == {"ebb", "hpa"}
    for entry in doc["policies"].values():
        assert {"slo_attainment", "worker_seconds", "p99_ms", "rejected", "scale_events",
                "flips"} <= set(entry)
        assert 0 <= entry["slo_attainment"] <= 1


def test_report_files_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    status = _run(["--synthetic", "step", "--rate", "30", "--duration", "20", "--policy",
                   "all", "--policy-option", "hpa.target=2", "--out", str(out), "--quiet"])
    assert status == 0
    text = capsys.readouterr().out
    for name in ("ebb", "hpa", "keda", "kpa", "ray", "oracle"):
        assert name in text
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert (out / "pareto.png").stat().st_size > 1000
    assert (out / "timelines.png").stat().st_size > 1000


def test_tune_reports_defaults_and_tuned_on_the_held_out_half(
        capsys: pytest.CaptureFixture[str]) -> None:
    status = _run(["--synthetic", "constant", "--rate", "20", "--duration", "20",
                   "--policy", "ebb", "--policy", "kpa", "--tune", "--json", "--quiet"])
    assert status == 0
    doc = json.loads(capsys.readouterr().out)
    held = doc["held_out"]
    assert set(held["policies"]) == {"ebb default", "kpa default", "ebb tuned", "kpa tuned"}
    assert set(held["tuned_settings"]) == {"ebb", "kpa"}
    assert held["scored_from_s"] == 10


def test_azure_trace_credit_is_shown(capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    trace = tmp_path / "azure.csv"
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n" + "".join(
        f"2023-11-16 18:15:{10 + i // 10:02d}.{i % 10}000000,100,10\n" for i in range(300)))
    assert _run(["--trace", str(trace), "--policy", "ebb", "--quiet"]) == 0
    assert "Splitwise" in capsys.readouterr().out


def test_bad_input_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("0\nnope\n")
    assert _run(["--trace", str(bad), "--quiet"]) == 2
    assert "bad.txt:2" in capsys.readouterr().err
    assert _run(["--synthetic", "step", "--policy-option", "hpa.nonsense=1", "--quiet"]) == 2
    assert "nonsense" in capsys.readouterr().err
    assert _run(["--synthetic", "step", "--min-workers", "5", "--max-workers", "2",
                 "--quiet"]) == 2


def test_a_bad_knob_value_is_one_line_naming_the_knob(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--synthetic", "step", "--policy-option", "ebb.miss_fraction=abc", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == "ebb sim: error: knob miss_fraction of policy 'ebb' takes a number, got 'abc'\n"

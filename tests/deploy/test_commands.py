"""``ebb dashboards export``, ``ebb rules export`` and ``ebb prometheus-config`` as the CLI wires
them: parser in, files and text out, output accepted by the real ``promtool``."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from ebb.deploy import commands


def _run(add: Callable[[argparse.ArgumentParser], None],
         run: Callable[[argparse.Namespace], int], argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add(parser)
    return run(parser.parse_args(argv))


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: apt-get install prometheus (make deps-system)")
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)


def test_dashboards_export_writes_importable_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = _run(commands.add_dashboards_arguments, commands.run_dashboards,
                  ["export", "--out", str(tmp_path / "grafana")])
    assert status == 0
    printed = capsys.readouterr().out.split()
    assert printed and all(Path(path).exists() for path in printed)
    for path in printed:
        assert json.loads(Path(path).read_text())["panels"]


def test_rules_export_with_an_slo_between_buckets_notes_the_rounding(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = _run(commands.add_rules_arguments, commands.run_rules,
                  ["export", "--out", str(tmp_path), "--slo-ms", "150", "--slo-target", "0.995",
                   "--runbook-url", "https://example.org/ebb/alerts"])
    assert status == 0
    out, err = capsys.readouterr()
    assert "below 100 ms" in err
    path = Path(out.strip())
    text = path.read_text()
    assert 'le="0.1"' in text and "/ 0.005 > 14.4" in text
    assert "https://example.org/ebb/alerts#ebbqueuerejecting" in text
    checked = _promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("argv", [["--slo-target", "1.5"], ["--slo-ms", "0.1"]])
def test_rules_export_refuses_bad_settings(tmp_path: Path, argv: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    status = _run(commands.add_rules_arguments, commands.run_rules,
                  ["export", "--out", str(tmp_path), *argv])
    assert status == 2
    assert "ebb:" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_prometheus_config_is_valid_for_promtool(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules"
    _run(commands.add_rules_arguments, commands.run_rules, ["export", "--out", str(rules)])
    capsys.readouterr()
    status = _run(commands.add_prometheus_config_arguments, commands.run_prometheus_config,
                  ["--target", "127.0.0.1:8080", "--target", "pod-b:9000",
                   "--rules", str(rules / "ebb-rules.yml")])
    assert status == 0
    text = capsys.readouterr().out
    config = yaml.safe_load(text)
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == [
        "127.0.0.1:8080", "pod-b:9000"]
    assert config["global"]["scrape_interval"] == "1s"
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    checked = _promtool("check", "config", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_prometheus_config_defaults_to_the_local_server(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(commands.add_prometheus_config_arguments, commands.run_prometheus_config,
                ["--interval-s", "0.5"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == ["127.0.0.1:8080"]
    assert config["scrape_configs"][0]["scrape_interval"] == "500ms"
    assert "rule_files" not in config


@pytest.mark.parametrize("argv", [["--target", "no-port"], ["--interval-s", "0"]])
def test_prometheus_config_refuses_bad_flags(argv: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(commands.add_prometheus_config_arguments, commands.run_prometheus_config,
                argv) == 2
    assert "ebb:" in capsys.readouterr().err

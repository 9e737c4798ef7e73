"""The combinations ``ebb k8s render`` refuses, each with one line and exit 2 as a user sees it,
and the small pure pieces: default names, KServe versions, a re-render into the same directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from ebb.cli import main
from ebb.kubernetes.render.bundle import render
from ebb.kubernetes.render.options import (
    RenderError,
    RenderOptions,
    default_name,
    parse_kserve_version,
    problems,
)
from ebb.kubernetes.render.write import write_bundle

REFUSED = {
    # one scale target, two writers
    "controller-and-keda": (["--autoscaler", "ebb", "--keda-external"], "second writer"),
    "hpa-metrics-beside-keda": (["--autoscaler", "keda", "--hpa-resource-metrics"],
                                "second writer"),
    "hpa-metrics-beside-controller": (["--autoscaler", "ebb", "--hpa-resource-metrics"],
                                      "second writer"),
    "vpa-beside-cpu-hpa": (["--autoscaler", "hpa", "--hpa-resource-metrics", "--vpa"],
                           "VPA limitation"),
    # a writer that would not exist, or KServe that would revert ours
    "kserve-keda-without-kserve": (["--autoscaler", "kserve-keda"], "needs --kserve"),
    "kserve-too-old": (["--kserve", "--kserve-version", "0.13"], "0.14 or newer"),
    "kserve-keda-too-old": (["--autoscaler", "kserve-keda", "--kserve", "--kserve-version",
                             "0.14"], "0.15 or newer"),
    "keda-external-with-hpa": (["--autoscaler", "hpa", "--keda-external"],
                               "goes with --autoscaler keda"),
    # values
    "min-above-max": (["--min-replicas", "5", "--max-replicas", "2"], "--min-replicas"),
    "hpa-to-zero": (["--autoscaler", "hpa", "--min-replicas", "0"], "scale to zero"),
    "bad-name": (["--name", "My_Model"], "DNS label"),
    "storage-uri-without-kserve": (["s3://bucket/m.onnx"], "needs --kserve"),
    "pickle-without-trust": (["/mnt/models/m.joblib"], "--trust-pickle"),
    "service-monitor-with-kserve": (["--kserve", "--service-monitor"], "PodMonitor"),
    "tls-with-kserve": (["--kserve", "--tls-secret", "tls"], "h2c"),
    "bad-kserve-version": (["--kserve", "--kserve-version", "latest"], "MAJOR.MINOR"),
    "slo-below-buckets": (["--slo-ms", "0.5"], "smallest latency bucket"),
    "bad-prometheus-url": (["--prometheus-url", "prometheus:9090"], "http(s) URL"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_combinations_exit_2_with_one_line(case: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    argv, reason = REFUSED[case]
    status = main(["k8s", "render", *argv, "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("ebb: ") and reason in err, err
    assert out == "" and not (tmp_path / "out").exists()


def test_the_defaults_render_as_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ebb k8s render --autoscaler ebb --out k8s/` works without any other flag."""
    assert problems(RenderOptions()) == []
    assert main(["k8s", "render", "--autoscaler", "ebb", "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert (tmp_path / "kustomization.yaml").exists() and "kustomization.yaml" in out
    assert f"kubectl apply -k {tmp_path}" in err


def test_render_raises_for_refused_options() -> None:
    with pytest.raises(RenderError, match="needs --kserve"):
        render(RenderOptions(autoscaler="kserve-keda"))


@pytest.mark.parametrize(("model", "name"), [
    (None, "demo"), ("/mnt/models/ResNet50.onnx", "resnet50"),
    ("builtin:sleep?ms=20", "sleep"), ("my_pkg.models:Scorer", "scorer"),
    ("s3://bucket/dir/iris_v2.joblib", "iris-v2"), ("gs://bucket/models/", "models"),
    ("/mnt/models/2024.onnx", "model-2024")])
def test_default_names_are_dns_labels_from_the_model(model: str | None, name: str) -> None:
    assert default_name(model) == name
    assert problems(RenderOptions(name=default_name(model))) == []


def test_kserve_versions_parse() -> None:
    assert parse_kserve_version("0.20") == (0, 20)
    assert parse_kserve_version("v0.15.2") == (0, 15)


def test_a_re_render_removes_only_its_own_stale_files(tmp_path: Path) -> None:
    write_bundle(tmp_path, render(RenderOptions(autoscaler="hpa")))
    mine = tmp_path / "notes.yaml"
    mine.write_text("# not rendered\n")
    write_bundle(tmp_path, render(RenderOptions(autoscaler="keda")))
    names = {path.name for path in tmp_path.glob("*.yaml")}
    assert "hpa.yaml" not in names and "prometheus-adapter-rules.yaml" not in names
    assert {"scaled-object.yaml", "notes.yaml"} <= names

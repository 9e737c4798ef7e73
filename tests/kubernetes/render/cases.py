"""The render cases every test runs: each autoscaler, with and without KServe, and the main flag
combinations (security, VPA, ServiceMonitor, storage URI, old KServe)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ebb.cli import main
from ebb.kubernetes.render.bundle import KUSTOMIZATION

ROOT = Path(__file__).resolve().parents[3]
SHARED_K8S = ROOT.parent / "shared" / "k8s"
"""``../shared/k8s`` beside the repository: validate.py and the published CRDs."""
K8S_VERSIONS = ("1.29.0", "1.33.0")

CASES: dict[str, list[str]] = {
    "ebb": ["--autoscaler", "ebb"],
    "ebb-kserve": ["--autoscaler", "ebb", "--kserve", "s3://models/resnet50.onnx"],
    "keda": ["--autoscaler", "keda", "builtin:sleep?ms=20", "--name", "sleepy",
             "--namespace", "serving", "--workers", "4", "--min-replicas", "0"],
    "keda-external": ["--autoscaler", "keda", "--keda-external"],
    "keda-kserve": ["--autoscaler", "keda", "--kserve"],
    "hpa": ["--autoscaler", "hpa"],
    "hpa-resource-metrics": ["--autoscaler", "hpa", "--hpa-resource-metrics"],
    "hpa-kserve": ["--autoscaler", "hpa", "--kserve"],
    "kserve-keda": ["--autoscaler", "kserve-keda", "--kserve", "--target-queue-per-pod", "3"],
    "none": ["--autoscaler", "none", "--min-replicas", "3"],
    "none-kserve-0.15": ["--autoscaler", "none", "--kserve", "--kserve-version", "0.15"],
    "secure-vpa-servicemonitor": ["--autoscaler", "ebb", "--vpa", "--service-monitor",
                                  "--tls-secret", "ebb-tls", "--metrics-token-secret",
                                  "ebb-keys", "--release-label", "prom"],
    "kserve-secure-vpa": ["--autoscaler", "keda", "--kserve", "--vpa", "--trust-pickle",
                          "--metrics-token-secret", "ebb-keys", "gs://bucket/iris.joblib",
                          "--slo-ms", "250", "--image", "registry.example/ebb:1"],
}


def render_case(case: str, out: Path) -> list[Path]:
    """Run ``ebb k8s render`` as a user would; return the files written."""
    status = main(["k8s", "render", *CASES[case], "--out", str(out)])
    assert status == 0, f"ebb k8s render {' '.join(CASES[case])} exited {status}"
    return sorted(out.glob("*.yaml"))


def objects(paths: list[Path]) -> list[dict[str, Any]]:
    """Every Kubernetes object in the files (the kustomization is not one)."""
    return [doc for path in paths if path.name != KUSTOMIZATION
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [doc for doc in docs
             if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]

"""Every rendered object passes ``../shared/k8s/validate.py`` at Kubernetes 1.29 and 1.33: core
kinds against the strict Kubernetes schemas, CRD kinds against the published CRDs (KServe 0.20,
KEDA 2.20, prometheus-operator 0.93, VPA 1.7) made strict, so an unknown or misplaced field fails
here instead of being pruned silently by an API server. The validator is loaded from its file
and its own ``validate_doc`` runs in this process (one CRD load for the whole module).
Not covered by the schemas (as validate.py says): CEL rules and admission webhooks; the rules
Ebb relies on are tested in test_options.py.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.kubernetes.render.cases import CASES, K8S_VERSIONS, SHARED_K8S, find, objects

VALIDATE = SHARED_K8S / "validate.py"


@pytest.fixture(scope="module")
def validator() -> ModuleType:
    if not VALIDATE.exists():
        pytest.skip(f"{VALIDATE} is absent: the shared k8s fixtures sit beside the repository "
                    f"as ../shared/k8s")
    pytest.importorskip("jsonschema", reason="pip install -e '.[test]' (jsonschema)")
    pytest.importorskip("kubernetes_validate", reason="pip install -e '.[test]'")
    spec = importlib.util.spec_from_file_location("ebb_shared_k8s_validate", VALIDATE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def crds(validator: ModuleType) -> dict[Any, Any]:
    schemas: dict[Any, Any] = validator.load_crd_schemas()
    return schemas


def _errors(validator: ModuleType, crds: dict[Any, Any], doc: dict[str, Any],
            version: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    monkeypatch.setattr(validator, "K8S_VERSION", version)
    via, messages = validator.validate_doc(doc, crds)
    return str(via), list(messages)


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_rendered_object_is_valid(case: str, version: str, rendered: dict[str, list[Path]],
                                        validator: ModuleType, crds: dict[Any, Any],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    docs = objects(rendered[case])
    assert docs
    bad = {}
    for doc in docs:
        via, messages = _errors(validator, crds, doc, version, monkeypatch)
        assert via != "none", f"no schema for {doc['apiVersion']} {doc['kind']}"
        if messages:
            bad[f"{doc['kind']}/{doc['metadata']['name']} via {via}"] = messages
    assert not bad, bad


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_validator_is_strict_about_unknown_fields(
        version: str, rendered: dict[str, list[Path]], validator: ModuleType,
        crds: dict[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that passes everything proves nothing: a misplaced field fails, core and CRD."""
    docs = objects(rendered["ebb"])
    deployment = copy.deepcopy(find(docs, "Deployment", "demo"))
    deployment["spec"]["template"]["spec"]["containers"][0]["prestop"] = 5
    assert _errors(validator, crds, deployment, version, monkeypatch)[1]
    monitor = copy.deepcopy(find(docs, "PodMonitor", "demo"))
    monitor["spec"]["podMetricsEndpoints"][0]["bearerToken"] = "x"
    assert _errors(validator, crds, monitor, version, monkeypatch)[1]


def test_kserve_docs_keda_shape_is_rejected(rendered: dict[str, list[Path]],
                                            validator: ModuleType, crds: dict[Any, Any],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """SPEC N1: the KServe docs put ``authModes`` under ``external.metric`` and a flat
    ``authenticationRef.name``; the CRD (code shape) rejects both, so we never render them."""
    service = copy.deepcopy(find(objects(rendered["kserve-keda"]), "InferenceService"))
    external = service["spec"]["predictor"]["autoScaling"]["metrics"][0]["external"]
    external["metric"]["authModes"] = "bearer"
    external["authenticationRef"] = {"name": "prometheus-auth"}
    messages = _errors(validator, crds, service, K8S_VERSIONS[-1], monkeypatch)[1]
    assert any("authModes" in message for message in messages), messages
    assert any("authenticationRef" in message for message in messages), messages

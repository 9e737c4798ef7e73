"""What the rendered manifests promise, object by object: one writer of replicas, the pod
settings of SPEC §4 (probes, security, grace period), KServe's classes and names, the
controller's wiring and least-privilege Role, and the security blocks. The `ebb serve` and
`ebb controller` command lines in the manifests are parsed by Ebb's own parser, so a renamed
flag fails here and not in a pod."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ebb.cli import build_parser
from ebb.config import load_settings
from ebb.deploy.dashboards import DASHBOARDS, build_dashboard
from tests.kubernetes.render.cases import CASES, find, objects

LABEL_KEYS = {"app.kubernetes.io/name", "app.kubernetes.io/instance",
              "app.kubernetes.io/component", "app.kubernetes.io/managed-by"}


def _docs(rendered: dict[str, list[Path]], case: str) -> list[dict[str, Any]]:
    return objects(rendered[case])


def _serve_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The serving container as a pod would run it (KServe: runtime merged with the model)."""
    if not any(doc["kind"] == "InferenceService" for doc in docs):
        serving = [doc for doc in docs if doc["kind"] == "Deployment"
                   and not doc["metadata"]["name"].endswith("-controller")]
        assert len(serving) == 1
        return dict(serving[0]["spec"]["template"]["spec"]["containers"][0])
    service = find(docs, "InferenceService")
    runtime = find(docs, "ClusterServingRuntime")["spec"]["containers"][0]
    model = service["spec"]["predictor"]["model"]
    args = [arg.replace("{{.Name}}", service["metadata"]["name"]) for arg in runtime["args"]]
    return {**runtime, "args": [*args, *model["args"]],
            "volumeMounts": [*runtime["volumeMounts"], *model.get("volumeMounts", [])]}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_object_carries_the_standard_labels(case: str,
                                                  rendered: dict[str, list[Path]]) -> None:
    for doc in _docs(rendered, case):
        assert set(doc["metadata"]["labels"]) >= LABEL_KEYS, doc["metadata"]["name"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_serve_command_line_is_accepted_by_ebb_serve(
        case: str, rendered: dict[str, list[Path]]) -> None:
    args = _serve_container(_docs(rendered, case))["args"]
    assert args[:2] == ["ebb", "serve"]
    parsed = vars(build_parser().parse_args(args[1:]))
    for key in ("command", "config"):
        parsed.pop(key)
    given = parsed.pop("model_specs", None)  # as ``ebb serve`` turns its MODEL arguments
    if given is not None:
        parsed["model"] = given[0] if len(given) == 1 else None
        parsed["models"] = given if len(given) > 1 else None
    settings = load_settings(parsed)
    assert settings.host == "0.0.0.0"
    assert (settings.http_port, settings.grpc_port) == (8080, 8081)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_controller_command_line_is_accepted_by_ebb_controller(
        case: str, rendered: dict[str, list[Path]]) -> None:
    docs = _docs(rendered, case)
    controllers = [doc for doc in docs if doc["kind"] == "Deployment"
                   and doc["metadata"]["name"].endswith("-controller")]
    if not controllers:
        assert "--autoscaler ebb" not in " ".join(CASES[case]) and \
            "--keda-external" not in CASES[case]
        return
    from ebb.kubernetes.controller.command import settings_from

    args = controllers[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:2] == ["ebb", "controller"]
    settings = settings_from(build_parser().parse_args(args[1:]))
    assert settings.lease_name == controllers[0]["metadata"]["name"]
    assert settings.min_replicas <= settings.max_replicas


@pytest.mark.parametrize("case", sorted(CASES))
def test_only_a_fixed_size_deployment_names_its_replicas(
        case: str, rendered: dict[str, list[Path]]) -> None:
    for doc in _docs(rendered, case):
        if doc["kind"] == "Deployment" and not doc["metadata"]["name"].endswith("-controller"):
            assert ("replicas" in doc["spec"]) == ("none" in CASES[case])
    if case == "none":
        assert find(_docs(rendered, case), "Deployment")["spec"]["replicas"] == 3


def test_pod_settings_follow_spec_section_4(rendered: dict[str, list[Path]]) -> None:
    docs = _docs(rendered, "ebb")
    pod = find(docs, "Deployment", "demo")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    args = container["args"]
    prestop = int(args[args.index("--prestop-s") + 1])
    drain = int(args[args.index("--drain-timeout-s") + 1])
    assert pod["terminationGracePeriodSeconds"] >= prestop + drain + 10
    assert "lifecycle" not in container  # the server waits --prestop-s itself
    budget = find(docs, "PodDisruptionBudget", "demo")["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_the_service_names_its_ports_for_protocol_detection(
        rendered: dict[str, list[Path]]) -> None:
    ports = find(_docs(rendered, "ebb"), "Service", "demo")["spec"]["ports"]
    assert [(p["name"], p["port"], p.get("appProtocol")) for p in ports] == [
        ("http", 8080, "http"), ("grpc", 8081, "kubernetes.io/h2c")]


def test_the_controller_is_two_replicas_with_a_least_privilege_role(
        rendered: dict[str, list[Path]]) -> None:
    docs = _docs(rendered, "ebb-kserve")
    assert not [doc for doc in docs if doc["kind"].startswith("Cluster")
                and doc["kind"] != "ClusterServingRuntime"]
    controller = find(docs, "Deployment", "resnet50-controller")
    assert controller["spec"]["replicas"] == 2
    args = controller["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--target") + 1] == "inferenceservice/resnet50"
    assert args[args.index("--service") + 1] == "resnet50-predictor"
    rules = {(rule["apiGroups"][0], rule["resources"][0], tuple(rule.get("resourceNames", ()))):
             set(rule["verbs"]) for rule in find(docs, "Role")["rules"]}
    read = {"get", "list", "watch"}
    assert rules == {
        ("apps", "deployments/scale", ()): {"get", "update", "patch"},
        ("apps", "deployments", ()): read,
        ("serving.kserve.io", "inferenceservices", ()): read,
        ("discovery.k8s.io", "endpointslices", ()): read,
        ("", "pods", ()): read | {"patch"},  # pod-deletion-cost before scale-in
        ("autoscaling", "horizontalpodautoscalers", ()): read,
        ("keda.sh", "scaledobjects", ()): read,
        ("coordination.k8s.io", "leases", ()): {"create"},
        ("coordination.k8s.io", "leases", ("resnet50-controller",)): {"get", "update", "patch"},
        ("events.k8s.io", "events", ()): {"create", "patch"},
    }
    ports = {port["port"] for port in find(docs, "Service", "resnet50-controller")["spec"]["ports"]}
    assert ports == {8090, 8091}


@pytest.mark.parametrize(("case", "expected"), [
    ("ebb-kserve", "external"), ("keda-kserve", "external"), ("hpa-kserve", "external"),
    ("kserve-keda", "keda"), ("none-kserve-0.15", "none")])
def test_kserve_autoscaler_class_leaves_one_writer(case: str, expected: str,
                                                   rendered: dict[str, list[Path]]) -> None:
    docs = _docs(rendered, case)
    service = find(docs, "InferenceService")
    annotations = service["metadata"]["annotations"]
    assert annotations["serving.kserve.io/autoscalerClass"] == expected
    assert annotations["serving.kserve.io/enable-prometheus-scraping"] == "false"
    mode = "RawDeployment" if case == "none-kserve-0.15" else "Standard"
    assert annotations["serving.kserve.io/deploymentMode"] == mode
    targets = [doc["spec"].get("scaleTargetRef") or doc["spec"].get("targetRef")
               for doc in docs if doc["kind"] in ("ScaledObject", "HorizontalPodAutoscaler",
                                                  "VerticalPodAutoscaler")]
    assert all(target["name"] == f"{service['metadata']['name']}-predictor"
               for target in targets)
    assert not [doc for doc in docs if doc["kind"] in ("Deployment", "Service")
                and not doc["metadata"]["name"].endswith("-controller")]
    runtime = find(docs, "ClusterServingRuntime")["spec"]
    assert runtime["protocolVersions"] == ["v2", "grpc-v2"]
    assert runtime["containers"][0]["name"] == "kserve-container"


def test_kserve_downloads_a_storage_uri_to_mnt_models(rendered: dict[str, list[Path]]) -> None:
    model = find(_docs(rendered, "ebb-kserve"), "InferenceService")["spec"]["predictor"]["model"]
    assert model["storageUri"] == "s3://models/resnet50.onnx"
    assert model["args"][0] == "/mnt/models/resnet50.onnx"
    assert model["modelFormat"] == {"name": "onnx"}


def test_keda_scales_on_queue_depth_and_falls_back_on_errors(
        rendered: dict[str, list[Path]]) -> None:
    spec = find(_docs(rendered, "keda"), "ScaledObject")["spec"]
    trigger = spec["triggers"][0]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
    assert trigger["metadata"]["ignoreNullValues"] == "false"
    assert trigger["metadata"]["query"].startswith("sum(ebb_queue_depth{")
    assert trigger["metadata"]["threshold"] == "8"  # 2 per worker, 4 workers
    assert spec["fallback"]["failureThreshold"] >= 1
    assert spec["minReplicaCount"] == 0


@pytest.mark.parametrize("case", sorted(CASES))
def test_scaled_objects_keep_min_at_or_below_max(case: str,
                                                 rendered: dict[str, list[Path]]) -> None:
    """KEDA's CEL rule, which the schema check does not evaluate."""
    for doc in _docs(rendered, case):
        if doc["kind"] == "ScaledObject":
            assert doc["spec"]["minReplicaCount"] <= doc["spec"]["maxReplicaCount"]


def test_keda_external_follows_the_controllers_scaler(rendered: dict[str, list[Path]]) -> None:
    docs = _docs(rendered, "keda-external")
    trigger = find(docs, "ScaledObject")["spec"]["triggers"][0]
    assert trigger["type"] == "external-push"
    assert trigger["metadata"]["scalerAddress"] == "demo-controller.default.svc:8091"
    container = find(docs, "Deployment", "demo-controller")["spec"]["template"]["spec"][
        "containers"][0]
    args = container["args"]
    assert args[args.index("--keda-external-scaler-port") + 1] == "8091"
    assert {port["containerPort"] for port in container["ports"]} == {8090, 8091}


def test_hpa_reads_queue_depth_as_a_pods_metric(rendered: dict[str, list[Path]]) -> None:
    plain = find(_docs(rendered, "hpa"), "HorizontalPodAutoscaler")["spec"]["metrics"]
    assert [metric["type"] for metric in plain] == ["Pods"]
    assert plain[0]["pods"]["metric"]["name"] == "ebb_queue_depth"
    both = find(_docs(rendered, "hpa-resource-metrics"), "HorizontalPodAutoscaler")
    assert [(m["type"], m.get("resource", {}).get("name")) for m in both["spec"]["metrics"]] == [
        ("Pods", None), ("Resource", "cpu"), ("Resource", "memory")]


def test_security_secrets_reach_the_pod_and_the_monitor(rendered: dict[str, list[Path]]) -> None:
    docs = _docs(rendered, "secure-vpa-servicemonitor")
    container = _serve_container(docs)
    args = container["args"]
    assert args[args.index("--tls-cert-file") + 1] == "/etc/ebb/tls/tls.crt"
    assert args[args.index("--tls-key-file") + 1] == "/etc/ebb/tls/tls.key"
    assert args[args.index("--auth-keys-file") + 1] == "/etc/ebb/keys/keys.toml"
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    volumes = find(docs, "Deployment", "demo")["spec"]["template"]["spec"]["volumes"]
    assert {v["secret"]["secretName"] for v in volumes if "secret" in v} == {"ebb-tls",
                                                                              "ebb-keys"}
    endpoint = find(docs, "ServiceMonitor")["spec"]["endpoints"][0]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"]["ca"]["secret"] == {"name": "ebb-tls", "key": "ca.crt"}
    assert endpoint["authorization"] == {"type": "Bearer",
                                         "credentials": {"name": "ebb-keys", "key": "token"}}
    assert find(docs, "ServiceMonitor")["metadata"]["labels"]["release"] == "prom"
    assert find(docs, "VerticalPodAutoscaler")["spec"]["updatePolicy"] == {"updateMode": "Off"}
    kserve = _serve_container(_docs(rendered, "kserve-secure-vpa"))
    assert "--auth-keys-file" in kserve["args"] and "--trust-pickle" in kserve["args"]


def test_the_controller_scrapes_secure_pods_with_only_the_ca_and_the_token(
        rendered: dict[str, list[Path]]) -> None:
    docs = _docs(rendered, "secure-vpa-servicemonitor")
    spec = find(docs, "Deployment", "demo-controller")["spec"]["template"]["spec"]
    args = spec["containers"][0]["args"]
    assert args[args.index("--scrape-ca-file") + 1] == "/etc/ebb/scrape-tls/ca.crt"
    assert args[args.index("--scrape-server-name") + 1] == "demo.default.svc"
    assert args[args.index("--scrape-bearer-token-file") + 1] == "/etc/ebb/scrape-key/token"
    items = {v["secret"]["secretName"]: [i["key"] for i in v["secret"]["items"]]
             for v in spec["volumes"] if "secret" in v}
    assert items == {"ebb-tls": ["ca.crt"], "ebb-keys": ["token"]}
    plain = find(_docs(rendered, "ebb"), "Deployment", "demo-controller")
    assert "--scrape-ca-file" not in plain["spec"]["template"]["spec"]["containers"][0]["args"]


def test_dashboards_are_config_maps_for_grafanas_sidecar(rendered: dict[str, list[Path]]) -> None:
    import json

    maps = [doc for doc in _docs(rendered, "ebb") if doc["kind"] == "ConfigMap"]
    assert len(maps) == len(DASHBOARDS)
    for config_map, spec in zip(maps, DASHBOARDS, strict=True):
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(config_map["data"][spec.file_name]) == build_dashboard(spec)


def test_adapter_rules_use_only_the_adapters_documented_fields(
        rendered: dict[str, list[Path]]) -> None:
    """prometheus-adapter's config (pkg/config/config.go, SPEC §2(d)); no schema to validate
    against, so the field names are checked here."""
    import yaml

    config_map = find(_docs(rendered, "hpa"), "ConfigMap", "demo-prometheus-adapter")
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    assert set(config) == {"rules"}
    for rule in config["rules"]:
        assert set(rule) <= {"seriesQuery", "seriesFilters", "resources", "name",
                             "metricsQuery"}
        assert set(rule["resources"]) <= {"template", "overrides", "namespaced"}
        assert set(rule["name"]) <= {"matches", "as"}
        for template in ("<<.Series>>", "<<.LabelMatchers>>", "<<.GroupBy>>"):
            assert template in rule["metricsQuery"]

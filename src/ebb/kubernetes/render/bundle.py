"""Which objects each option set gets, grouped one file per concern, plus the kustomization.

    every mode     service-account, pod-disruption-budget, pod-monitor (or service-monitor),
                   prometheus-rule, grafana-dashboards
    plain          deployment, service            --kserve   serving-runtime, inference-service
    ebb            controller-rbac, controller    keda       scaled-object (+ controller with
    hpa            hpa, prometheus-adapter-rules              --keda-external)
    --vpa          vpa
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ebb.kubernetes.render import controller, kserve, monitoring, scaling, workload
from ebb.kubernetes.render.options import RenderOptions, check

KUSTOMIZATION = "kustomization.yaml"


@dataclass(frozen=True, slots=True)
class ManifestFile:
    """One YAML file of the bundle: its name and its documents, in apply order."""

    name: str
    documents: tuple[dict[str, Any], ...]


def render(options: RenderOptions) -> list[ManifestFile]:
    """Every file for these options (RenderError when they are refused), kustomization last."""
    check(options)
    files = [*_serving(options), *_monitoring(options), *_scaling(options)]
    return [*files, kustomization(files)]


def _serving(options: RenderOptions) -> list[ManifestFile]:
    files = [ManifestFile("service-account.yaml", (workload.service_account(options),))]
    if options.kserve:
        files += [ManifestFile("serving-runtime.yaml", (kserve.serving_runtime(options),)),
                  ManifestFile("inference-service.yaml", (kserve.inference_service(options),))]
    else:
        files += [ManifestFile("deployment.yaml", (workload.deployment(options),)),
                  ManifestFile("service.yaml", (workload.service(options),))]
    files.append(ManifestFile("pod-disruption-budget.yaml",
                              (workload.pod_disruption_budget(options),)))
    return files


def _monitoring(options: RenderOptions) -> list[ManifestFile]:
    scrape = (ManifestFile("service-monitor.yaml", (monitoring.service_monitor(options),))
              if options.service_monitor
              else ManifestFile("pod-monitor.yaml", (monitoring.pod_monitor(options),)))
    return [scrape,
            ManifestFile("prometheus-rule.yaml", (monitoring.prometheus_rule(options),)),
            ManifestFile("grafana-dashboards.yaml",
                         tuple(monitoring.dashboard_config_maps(options)))]


def _scaling(options: RenderOptions) -> list[ManifestFile]:
    files = []
    if options.autoscaler == "ebb" or options.keda_external:
        files += [ManifestFile("controller-rbac.yaml", tuple(controller.rbac(options))),
                  ManifestFile("controller.yaml", (
                      controller.deployment(options), controller.service(options),
                      controller.pod_disruption_budget(options),
                      controller.pod_monitor(options)))]
    if options.autoscaler == "keda":
        files.append(ManifestFile("scaled-object.yaml", (scaling.scaled_object(options),)))
    if options.autoscaler == "hpa":
        files += [ManifestFile("hpa.yaml", (scaling.horizontal_pod_autoscaler(options),)),
                  ManifestFile("prometheus-adapter-rules.yaml",
                               (scaling.adapter_config_map(options),))]
    if options.vpa:
        files.append(ManifestFile("vpa.yaml", (scaling.vertical_pod_autoscaler(options),)))
    return files


def kustomization(files: list[ManifestFile]) -> ManifestFile:
    """``kubectl apply -k DIR`` applies every file; kustomize orders the kinds itself."""
    return ManifestFile(KUSTOMIZATION, ({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [manifest.name for manifest in files],
    },))


def objects(files: list[ManifestFile]) -> list[dict[str, Any]]:
    """Every Kubernetes object of a bundle (the kustomization is not one)."""
    return [doc for manifest in files if manifest.name != KUSTOMIZATION
            for doc in manifest.documents]

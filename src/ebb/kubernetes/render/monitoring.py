"""prometheus-operator objects and Grafana dashboards for the serving pods.

A PodMonitor by default (it needs no Service, and under KServe Standard mode annotation scraping
points at a port that does not exist, SPEC §2(b)), a ServiceMonitor on request; a PrometheusRule
with exactly the rules ``ebb rules export`` writes; each dashboard of ``ebb dashboards export``
as a ConfigMap that Grafana's dashboard sidecar picks up by its label.
"""

from __future__ import annotations

import json
from typing import Any

from ebb.kubernetes.render import meta, pod
from ebb.kubernetes.render.options import RenderOptions

SCRAPE_INTERVAL = "5s"
"""Short, since scalers act on these series; Ebb's exposition is small and cheap."""
GRAFANA_DASHBOARD_LABEL = "grafana_dashboard"
"""The label kube-prometheus-stack's Grafana sidecar watches (value "1")."""


def _endpoint(options: RenderOptions, port_key: str) -> dict[str, Any]:
    """One scrape endpoint; with TLS and API keys configured, the matching client settings."""
    endpoint: dict[str, Any] = {port_key: meta.http_port_name(options), "path": "/metrics",
                                "interval": SCRAPE_INTERVAL}
    if options.tls_secret:
        endpoint["scheme"] = "https"
        endpoint["tlsConfig"] = {
            "ca": {"secret": {"name": options.tls_secret, "key": "ca.crt"}},
            # Pods are scraped by IP: the certificate must name the Service, as clients see it.
            "serverName": f"{meta.service_name(options)}.{options.namespace}.svc",
        }
    if options.metrics_token_secret:
        endpoint["authorization"] = {
            "type": "Bearer",
            "credentials": {"name": options.metrics_token_secret, "key": pod.TOKEN_KEY}}
    return endpoint


def pod_monitor(options: RenderOptions) -> dict[str, Any]:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
            "metadata": meta.metadata(options, options.name, meta.MONITORING,
                                      extra_labels=meta.release_labels(options)),
            "spec": {"selector": {"matchLabels": meta.selector_labels(options)},
                     "podMetricsEndpoints": [_endpoint(options, "port")]}}


def service_monitor(options: RenderOptions) -> dict[str, Any]:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": meta.metadata(options, options.name, meta.MONITORING,
                                      extra_labels=meta.release_labels(options)),
            "spec": {"selector": {"matchLabels": meta.selector_labels(options)},
                     "endpoints": [_endpoint(options, "port")]}}


def prometheus_rule(options: RenderOptions) -> dict[str, Any]:
    """The groups of ``ebb rules export --slo-ms <slo>``, unchanged."""
    from ebb.deploy.rules import RuleSettings, rule_groups

    groups = rule_groups(RuleSettings(slo_s=options.slo_ms / 1000))
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": meta.metadata(options, options.name, meta.MONITORING,
                                      extra_labels=meta.release_labels(options)),
            "spec": groups}


def dashboard_config_maps(options: RenderOptions) -> list[dict[str, Any]]:
    """Every Ebb dashboard, one ConfigMap each. The dashboards are the same for every model
    (the model is a dashboard variable), so the names carry no release name."""
    from ebb.deploy.dashboards import DASHBOARDS, build_dashboard

    maps = []
    for spec in DASHBOARDS:
        text = json.dumps(build_dashboard(spec), indent=1) + "\n"
        maps.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": meta.metadata(options, f"ebb-dashboard-{spec.uid}",
                                               meta.MONITORING,
                                               extra_labels={GRAFANA_DASHBOARD_LABEL: "1"}),
                     "data": {spec.file_name: text}})
    return maps

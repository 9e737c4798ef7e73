"""``ebb controller``'s own metrics: what it wants, what it wrote, and what stopped it.

Labelled by the Deployment it scales (not by namespace: Prometheus adds the controller pod's
own ``namespace`` label when it scrapes), so a KEDA trigger can follow
``max(ebb_desired_replicas{deployment="NAME"})``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from ebb.metrics import names


class ControllerMetrics:
    def __init__(self, registry: CollectorRegistry, deployment: str) -> None:
        label = ["deployment"]
        self.desired = Gauge(names.CONTROLLER_DESIRED, "Pods the controller's policy wants.",
                             label, registry=registry).labels(deployment)
        self.decisions = Counter(names.CONTROLLER_DECISIONS,
                                 "Controller ticks by the direction decided (up, down, hold).",
                                 [*label, "direction"], registry=registry)
        self.scrape_errors = Counter(names.CONTROLLER_SCRAPE_ERRORS,
                                     "Pod /metrics scrapes that failed or timed out.", label,
                                     registry=registry).labels(deployment)
        self.conflict = Gauge(names.CONTROLLER_CONFLICT,
                              "1 while another autoscaler (an HPA) targets the workload and "
                              "the controller only advises.", label,
                              registry=registry).labels(deployment)
        self.write_conflicts = Counter(names.CONTROLLER_WRITE_CONFLICTS,
                                       "Scale writes refused with 409 Conflict and retried.",
                                       label, registry=registry).labels(deployment)
        self.writes = Counter(names.CONTROLLER_WRITES, "Scale subresource writes made.", label,
                              registry=registry).labels(deployment)
        self.leader = Gauge(names.CONTROLLER_LEADER, "1 while this replica holds the Lease.",
                            label, registry=registry).labels(deployment)
        self._deployment = deployment
        for direction in ("up", "down", "hold"):
            self.decisions.labels(deployment, direction)

    def decided(self, direction: str, desired_pods: int) -> None:
        self.desired.set(desired_pods)
        self.decisions.labels(self._deployment, direction).inc()

"""Which pods go first on scale-in: the ones with the least queued work.

A ReplicaSet removes, among equally ready pods, those with the lowest
``controller.kubernetes.io/pod-deletion-cost`` first. Before scaling from N to M pods the
controller marks the N - M ready pods holding the fewest queued and in-flight requests with a
low cost, and clears the mark it left on any pod that is now staying, so only the pods that
matter are patched. Pods not yet ready are removed first by the ReplicaSet anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
VICTIM_BASE = -1_000_000
"""Far below the default (0), so a victim ranks first whatever other pods carry."""


@dataclass(frozen=True, slots=True)
class PodWork:
    pod: str
    work: int
    """Queued plus in-flight requests."""


def deletion_costs(pods: Sequence[PodWork], remove: int,
                   marked: Mapping[str, str]) -> dict[str, str | None]:
    """Annotation values to patch (None clears ours): the ``remove`` least busy pods get
    ``VICTIM_BASE + work`` (ties broken by name, for a stable choice); pods we marked before
    that now stay are cleared. ``marked`` is what we set earlier, by pod."""
    if remove <= 0:
        return {}
    ranked = sorted(pods, key=lambda p: (p.work, p.pod))
    victims = {p.pod: str(VICTIM_BASE + min(p.work, 999_999)) for p in ranked[:remove]}
    patches: dict[str, str | None] = {pod: cost for pod, cost in victims.items()
                                      if marked.get(pod) != cost}
    present = {p.pod for p in pods}
    for pod in marked:
        if pod not in victims and pod in present:
            patches[pod] = None
    return patches

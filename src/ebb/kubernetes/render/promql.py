"""The PromQL the scalers read, built from the metric names in :mod:`ebb.metrics.names`.

Series are selected by ``namespace`` (a target label both PodMonitor and ServiceMonitor write)
and ``model`` (the name every pod serves the model under, ``--name``), so two releases in one
Prometheus never mix. KEDA's prometheus scaler refuses a result of more than one element, hence
the outer ``sum``.
"""

from __future__ import annotations

from ebb.kubernetes.render.options import RenderOptions
from ebb.metrics import names


def series_selector(options: RenderOptions) -> str:
    return f'{{namespace="{options.namespace}",model="{options.name}"}}'


def queue_depth(options: RenderOptions) -> str:
    """Requests waiting in every pod of this release: the demand KEDA scales on."""
    return f"sum({names.QUEUE_DEPTH}{series_selector(options)})"


def threshold(value: float) -> str:
    """A target as the Kubernetes quantity (and KEDA threshold) text: ``2``, ``2.5``."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"

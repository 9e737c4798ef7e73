"""What ``ebb serve`` prints once it serves: the models, the URLs, requests to paste.

Every example printed here runs with what ``make run`` installed (curl and ``ebb`` itself),
so a new user can paste it as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

from ebb.config import ServeSettings
from ebb.core.types import ModelMetadata, TensorSpec


def banner(version: str, models: Sequence[ModelMetadata], settings: ServeSettings,
           http_port: int, grpc_port: int, extra: Sequence[str] = ()) -> str:
    """The start-up text; ``extra`` lines (a local Prometheus, ...) go before "Ctrl-C stops"."""
    host = settings.host
    shown = f"[{host}]" if ":" in host else host
    base = f"{'https' if settings.tls_cert_file else 'http'}://{shown}:{http_port}"
    lines = [f"Ebb {version} serving:"]
    for meta in models:
        inputs = ", ".join(_spec(s) for s in meta.inputs)
        outputs = ", ".join(_spec(s) for s in meta.outputs)
        lines.append(f"  model {meta.name} v{meta.version} ({meta.platform}): "
                     f"{inputs} -> {outputs}")
    lines += [
        f"  REST     {base}/v2   (OpenAPI: {base}/openapi.json)",
        f"  gRPC     {shown}:{grpc_port}{' (TLS)' if settings.tls_cert_file else ''}",
        f"  metrics  {base}/metrics",
        f"  live dashboard  {base}/dashboard",
    ]
    if settings.tls_client_ca_file:
        lines.append("  TLS: clients must present a certificate signed by "
                     f"{settings.tls_client_ca_file}")
    lines += _examples(models, settings, base)
    if settings.autoscaling:
        lines.append(f"  autoscaling: policy {settings.policy}, {settings.min_workers or 0}-"
                     f"{settings.max_workers} workers, SLO {settings.slo_ms:g} ms, every "
                     f"{settings.autoscale_interval_s:g} s")
    lines += [f"  {line}" for line in extra]
    lines.append("Ctrl-C stops (accepted requests are answered first).")
    return "\n".join(lines)


def _spec(spec: TensorSpec) -> str:
    return f"{spec.name} {spec.datatype}{list(spec.shape)}"


def _examples(models: Sequence[ModelMetadata], settings: ServeSettings, base: str) -> list[str]:
    """A curl request for the first model with a numeric first input (two for the demo
    model: a healthy window and an anomalous one), and a load command."""
    for meta in models:
        spec = meta.inputs[0]
        if len(meta.inputs) != 1 or not spec.datatype.startswith(("FP", "INT", "UINT")):
            continue
        shape = [1 if dim == -1 else dim for dim in spec.shape]
        count = 1
        for dim in shape:
            count *= dim
        curl = (f"curl -s{_curl_tls(settings)} {base}/v2/models/{meta.name}/infer "
                "-H 'Content-Type: application/json' -d ")
        lines = ["Try:", f"  {curl}{_payload(spec, shape, ['0.5'] * count)}"]
        anomalous = _demo_anomaly(meta, count)
        if anomalous is not None:
            lines += ["  an anomalous window (bearing-fault impulses every 8 samples):",
                      f"  {curl}{_payload(spec, shape, anomalous)}"]
        if not settings.tls_cert_file and not settings.auth_keys_file:
            lines.append(f"  ebb load {base} --model {meta.name} --rate 50 --duration 10   "
                         "# open-loop load; watch the dashboard")
        return lines
    return []


def _payload(spec: TensorSpec, shape: list[int], values: list[str]) -> str:
    return (f"'{{\"inputs\":[{{\"name\":\"{spec.name}\",\"datatype\":\"{spec.datatype}\","
            f"\"shape\":{shape},\"data\":[{','.join(values)}]}}]}}'")


def _demo_anomaly(meta: ModelMetadata, count: int) -> list[str] | None:
    from ebb.runtime.demo import MODEL_NAME, WINDOW

    if meta.name != MODEL_NAME or count != WINDOW:
        return None
    return ["2.5" if index % 8 == 0 else "0.5" for index in range(count)]


def _curl_tls(settings: ServeSettings) -> str:
    if not settings.tls_cert_file:
        return ""
    client = " --cert CLIENT.crt --key CLIENT.key" if settings.tls_client_ca_file else ""
    return f" --cacert CA.pem{client}"

"""Settings for ``ebb serve``, validated once here; nothing else reads the environment or argv.

Precedence: command-line flags > ``EBB_*`` environment variables > config file (TOML or YAML)
> defaults. A bad value becomes one line naming the flag, the variable and the allowed range.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ebb.autoscale.policies.registry import (
    DEFAULT_POLICY,
    POLICY_NAMES,
    KnobError,
    coerce_knobs,
)
from ebb.inference_log.url import parse_database_url

DEFAULT_HTTP_PORT = 8080
DEFAULT_GRPC_PORT = 8081


class ConfigError(ValueError):
    """A setting is invalid; the message is ready to show a user."""


class ServeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EBB_", extra="forbid", frozen=True)

    model: str | None = Field(None, description="Model file or spec; none serves the demo model.")
    name: str | None = Field(None, description="Name to serve the model under.")
    models: list[str] = Field(default_factory=list, description=(
        "Several models or model repository directories to serve (the command line's "
        "positional arguments; docs/repository.md)."))
    load_on_demand: bool = Field(False, description=(
        "Load a repository's models on their first request instead of at start-up."))
    idle_unload_s: float | None = Field(None, gt=0, le=30 * 86_400, description=(
        "Unload a model no request used for this long (it loads again on demand with "
        "--load-on-demand)."))
    host: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 for all interfaces.")
    http_port: int | None = Field(None, ge=0, le=65535,
                                  description="HTTP port; unset tries 8080, then a free port.")
    grpc_port: int | None = Field(None, ge=0, le=65535,
                                  description="gRPC port; unset tries 8081, then a free port.")
    workers: int | None = Field(None, ge=0, le=256, description=(
        "Worker processes to start with (default: --min-workers when autoscaling, else 1)."))
    min_workers: int | None = Field(None, ge=0, le=256, description=(
        "Autoscaling lower bound (default: 0 when --max-workers is given, so the pool can "
        "scale to zero; 1 keeps a worker warm)."))
    max_workers: int | None = Field(None, ge=0, le=256, description=(
        "Autoscaling upper bound; above --min-workers turns autoscaling on (default: unset, "
        "a fixed pool of --workers)."))
    policy: str = Field(DEFAULT_POLICY, description="Autoscaling policy: "
                        f"{', '.join(POLICY_NAMES)}.")
    policy_options: dict[str, object] = Field(
        default_factory=dict,
        description="Policy knobs, e.g. container_concurrency=1 for kpa, target=2 for hpa.")
    slo_ms: float = Field(100.0, gt=0, le=600_000, description="Latency SLO the policy keeps.")
    autoscale_interval_s: float = Field(0.5, gt=0, le=600,
                                        description="How often the autoscaler decides.")
    scale_in_delay_s: float = Field(30.0, ge=0, le=86_400,
                                    description=("Longest idle keep-alive before removing a worker "
                                                 "(policy ebb keeps about one cold start)."))
    max_batch_size: int = Field(32, ge=1, le=65_536, description="Rows per batch; 1: no batching.")
    max_batch_delay_ms: float = Field(2.0, ge=0, le=10_000,
                                      description="Longest wait for a batch to fill.")
    max_queue_size: int = Field(1024, ge=1, le=10_000_000,
                                description="Requests waiting before new ones get 503.")
    request_timeout_ms: float = Field(30_000, ge=0, le=3_600_000,
                                      description="Default deadline; 0: none.")
    max_batch_runtime_s: float = Field(
        60.0, gt=0, le=86_400, description="A batch running longer has its worker killed and "
        "replaced, whatever its requests' deadlines (which also stop a batch).")
    prestop_s: float | None = Field(
        None, ge=0, le=3600, description="After SIGTERM/SIGINT, keep serving this long with "
        "readiness off so that load balancers stop routing here, then drain (default: 5 on a "
        "non-loopback address, as a pod; 0 on loopback, so Ctrl-C is quick).")
    drain_timeout_s: float = Field(
        30.0, ge=0, le=3600, description="Longest wait, once no longer accepting, for queued "
        "and running requests; those still waiting then get 503 with Retry-After.")
    max_body_mb: float = Field(64, gt=0, le=4096, description="Largest request body.")
    max_inflight_request_mb: float = Field(
        256, gt=0, le=1_048_576, description="Request bytes all requests in flight may hold "
        "together (JSON counted at its parsing cost, ~24x); beyond it: 503 with Retry-After.")
    max_header_kb: float = Field(64, gt=0, le=16_384, description="Largest request line and "
                                 "headers of one HTTP request; over it: 431.")
    header_timeout_s: float = Field(10.0, gt=0, le=3600, description="Time an HTTP request's "
                                    "headers may take to arrive; over it: 408, connection closed.")
    body_timeout_s: float = Field(60.0, gt=0, le=86_400, description="Time an HTTP request's "
                                  "body may take to arrive; over it: 408, connection closed.")
    keep_alive_s: int = Field(75, ge=1, le=86_400, description="Idle time before an HTTP "
                              "keep-alive connection is closed (above balancers' and client "
                              "pools' idle timeouts); advertised in a Keep-Alive header.")
    max_connections: int = Field(10_000, ge=1, le=1_000_000, description="Open HTTP "
                                 "connections served; requests on more get 503 and a close.")
    cors_origin: list[str] = Field(default_factory=list, description="Let web pages from this "
                                   "origin call the API (CORS; repeatable; * for any). Off by "
                                   "default.")
    allowed_host: list[str] = Field(default_factory=list, description="Also answer requests "
                                    "whose Host is this name (repeatable; any port). Bound to "
                                    "loopback, only localhost, 127.0.0.1, [::1] and --host are.")
    trust_pickle: bool = Field(False, description="Allow loading pickled (scikit-learn) models.")
    otlp_endpoint: str | None = Field(
        None, pattern=r"^https?://", description="Push metrics as OTLP/HTTP to this collector "
        "(e.g. http://127.0.0.1:4318).")
    otlp_interval_s: float = Field(10.0, gt=0, le=3600, description="OTLP push interval.")
    prometheus: bool = Field(False, description="Also start a local Prometheus (Debian's "
                             "package) scraping this server every second, with Ebb's rules.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Least severe log level printed.")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as text, or one JSON object per line for log shippers.")
    access_log: bool = Field(False, description="Log one line per request (method, path, "
                             "model, status, latency; REST and gRPC).")
    asgi_infer: bool = Field(False, description="Send plain JSON infer calls through the ASGI "
                             "app too. By default they are answered straight from the HTTP "
                             "parser: same checks, answers and metrics, less CPU per request.")
    cast_inputs: bool = Field(False, description=(
        "Convert an input of another numeric datatype to the declared one when no value "
        "changes beyond the declared type's precision (FP64 -> FP32, INT64 -> INT32 in range, "
        "...); refused otherwise, as Triton does."))
    inference_log: str | None = Field(
        None, description="Record every inference in this database: sqlite:///PATH or "
        "postgresql://USER@HOST:PORT/DB (off when unset).")
    inference_log_payloads: Literal["none", "hash", "full"] = Field(
        "none", description="Tensor data in the inference log: none (metadata), hash "
        "(SHA-256) or full (raw bytes).")
    inference_log_sample: float = Field(1.0, gt=0, le=1,
                                        description="Fraction of requests the log records.")
    inference_log_buffer: int = Field(10_000, ge=1, le=10_000_000, description=(
        "Records held in memory for the log writer; beyond it records are dropped, not "
        "requests delayed."))
    inference_log_retention_days: float = Field(
        0, ge=0, le=36_500, description="Delete logged requests older than this; 0 keeps all.")
    tls_cert_file: Path | None = Field(
        None, description="PEM certificate chain; with --tls-key-file, REST and gRPC speak TLS. "
        "Re-read when the file changes.")
    tls_key_file: Path | None = Field(None, description="PEM private key of --tls-cert-file "
                                      "(unencrypted).")
    tls_client_ca_file: Path | None = Field(
        None, description="PEM CA bundle: clients must present a certificate it signed "
        "(mutual TLS).")
    auth_keys_file: Path | None = Field(
        None, description="API keys file (TOML, or YAML by suffix; made by `ebb keys create`): "
        "every endpoint but health needs a key with the right role. Re-read when it changes.")
    rate_limit: float | None = Field(
        None, gt=0, le=1_000_000, description="Requests/s allowed per API key without its own "
        "rate (without --auth-keys-file: per client address); over it: 429. Unset: no limit.")
    rate_limit_burst: float | None = Field(
        None, ge=1, le=10_000_000, description="Requests allowed back to back under "
        "--rate-limit (default: one second's worth).")

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, value: str) -> str:
        if value not in POLICY_NAMES:
            raise ValueError(f"unknown policy {value!r}; known: {', '.join(POLICY_NAMES)}")
        return value

    @field_validator("inference_log")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None:
            parse_database_url(value)
        return value

    @field_validator("policy_options")
    @classmethod
    def _typed_knobs(cls, value: dict[str, object], info: ValidationInfo) -> dict[str, object]:
        """Knob values arrive as text from flags and files: typed here against the policy."""
        policy = info.data.get("policy")
        if policy is None:
            return value
        try:
            return coerce_knobs(policy, _unprefixed(policy, value))
        except KnobError as error:
            raise ValueError(str(error)) from None

    @model_validator(mode="after")
    def _bounds_in_order(self) -> ServeSettings:
        low, high = self.min_workers, self.max_workers
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_workers ({low}) is above max_workers ({high})")
        return self

    @model_validator(mode="after")
    def _some_worker(self) -> ServeSettings:
        if self.initial_workers == 0 and not self.autoscaling:
            raise ValueError("no worker would ever run: --workers 0 needs autoscaling "
                             "(--max-workers above --min-workers) to start one on demand")
        return self

    @model_validator(mode="after")
    def _tls_files_together(self) -> ServeSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            given = "--tls-cert-file" if self.tls_cert_file else "--tls-key-file"
            raise ValueError(f"--tls-cert-file and --tls-key-file go together (got only {given})")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("--tls-client-ca-file needs --tls-cert-file and --tls-key-file")
        return self

    @model_validator(mode="after")
    def _burst_needs_rate(self) -> ServeSettings:
        if self.rate_limit_burst is not None and self.rate_limit is None:
            raise ValueError("--rate-limit-burst needs --rate-limit")
        return self

    @property
    def prestop_seconds(self) -> float:
        """--prestop-s, or its default: 5 s (Kubernetes' usual preStop pause) when clients may
        come through a load balancer, 0 on a loopback address, where none routes."""
        if self.prestop_s is not None:
            return self.prestop_s
        loopback = self.host in ("localhost", "::1") or self.host.startswith("127.")
        return 0.0 if loopback else 5.0

    @property
    def autoscaling(self) -> bool:
        return self.max_workers is not None and self.max_workers > (self.min_workers or 0)

    @property
    def initial_workers(self) -> int:
        if self.min_workers is None and self.max_workers is None:
            return 1 if self.workers is None else self.workers
        low = self.min_workers if self.min_workers is not None else 0
        wanted = low if self.workers is None else self.workers
        high = self.max_workers if self.max_workers is not None else max(low, wanted)
        return min(max(wanted, low), high)


def _unprefixed(policy: str, knobs: dict[str, object]) -> dict[str, object]:
    """Knobs given as ``POLICY.KNOB`` (as in ``ebb sim``) must name the served policy."""
    plain: dict[str, object] = {}
    for key, value in knobs.items():
        named, dot, knob = key.rpartition(".")
        if dot and named != policy:
            raise KnobError(f"{key} sets a knob of policy {named!r}, but the policy served "
                            f"is {policy!r}")
        plain[knob if dot else key] = value
    return plain


_AUTOSCALING_ONLY = ("min_workers", "policy", "policy_options", "slo_ms",
                     "autoscale_interval_s", "scale_in_delay_s")


def ignored_settings(settings: ServeSettings) -> list[str]:
    """Warnings for settings that were given but change nothing, and for a surprising
    default (scaling to zero because --min-workers was left out)."""
    given = settings.model_fields_set
    if not settings.autoscaling:
        unused = [name for name in _AUTOSCALING_ONLY if name in given]
        if not unused:
            return []
        flags = ", ".join("--" + name.replace("_", "-") for name in unused)
        return [f"{flags} ignored: autoscaling is off (it needs --max-workers above "
                "--min-workers)"]
    if "min_workers" not in given:
        return [f"autoscaling between 0 and {settings.max_workers} workers: the pool scales to "
                "zero when idle (--min-workers 1 keeps a worker warm)"]
    return []


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            values = yaml.safe_load(text) or {}
        else:
            values = tomllib.loads(text)
    except Exception as error:
        raise ConfigError(f"config file {path} is not valid: {error}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a table of settings")
    section = values.get("serve", values)
    settings = {str(key).replace("-", "_"): value for key, value in section.items()}
    for key in settings:
        if key not in ServeSettings.model_fields:
            raise ConfigError(f"unknown key {key} in {path.name}{_did_you_mean(key)}")
    return settings


def _did_you_mean(key: str) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(ServeSettings.model_fields), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def load_settings(flags: dict[str, Any], config_file: Path | None = None) -> ServeSettings:
    """Merge flags, environment and file, and validate; raises ConfigError with one line."""
    file_values = read_config_file(config_file) if config_file else {}

    class _Layered(ServeSettings):
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, InitSettingsSource(settings_cls, file_values))

    try:
        return _Layered(**{key: value for key, value in flags.items() if value is not None})
    except ValidationError as error:
        raise ConfigError(describe_error(error)) from None


def describe_error(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "settings"
        message = problem["msg"].removeprefix("Value error, ")
        if field == "settings":
            lines.append(f"invalid settings: {message}")
            continue
        if field == "policy_options":
            lines.append(f"invalid --policy-option: {message}")
            continue
        flag = "--" + field.replace("_", "-")
        lines.append(f"invalid {flag} (EBB_{field.upper()}): {message} "
                     f"(got {problem.get('input')!r})")
    return "; ".join(lines)

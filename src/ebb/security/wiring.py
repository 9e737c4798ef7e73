"""Keys and rate limits from settings, as the app factory needs them: REST middleware, gRPC
interceptors and the loop that re-reads the keys file.

    security = build_security(settings, SecurityMetrics(registry), clock)
    app = apply_middleware(rest_app, security.middleware)
    grpc_server = create_server(..., interceptors=security.interceptors)
    security.spawn(background)

With neither ``--auth-keys-file`` nor ``--rate-limit`` both tuples are empty: no cost at all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from ebb.config import ServeSettings
from ebb.core.clock import Clock
from ebb.protocol.asgi import Middleware
from ebb.security.gate import Gate, RejectionRecorder
from ebb.security.interceptor import GateInterceptor
from ebb.security.keyring import KeyRing
from ebb.security.keys import ApiKey, Role, hash_secret, new_secret
from ebb.security.middleware import gate_middleware
from ebb.security.ratelimit import Buckets, limit_of

log = logging.getLogger("ebb.security")

KEYS_POLL_S = 1.0
LOCAL_OBSERVER_ID = "ebb-serve-prometheus"


class Spawner(Protocol):
    """What ``ebb.app.background.Background`` offers."""

    stopping: asyncio.Event

    def spawn(self, loop: Coroutine[Any, Any, Any], name: str) -> Any: ...


@dataclass(frozen=True)
class Security:
    gate: Gate
    middleware: tuple[Middleware, ...]
    interceptors: tuple[Any, ...]

    def grant_local_observer(self) -> str | None:
        """The secret of a new in-memory key with the observe role, for the Prometheus that
        ``ebb serve --prometheus`` starts (None when keys are off). Kept over re-reads of the
        keys file, never written to it: it lives and dies with this process."""
        ring = self.gate.ring
        if ring is None:
            return None
        secret = new_secret(LOCAL_OBSERVER_ID)
        ring.add_in_memory(ApiKey(LOCAL_OBSERVER_ID, hash_secret(secret),
                                  frozenset({Role.OBSERVE})))
        log.info("API keys: in-memory key %r (observe) for the local Prometheus",
                 LOCAL_OBSERVER_ID)
        return secret

    def spawn(self, background: Spawner) -> None:
        """Start re-reading the keys file (when there is one)."""
        if self.gate.ring is not None:
            background.spawn(self.gate.ring.watch(background.stopping, KEYS_POLL_S), "keys file")


def build_security(settings: ServeSettings, recorder: RejectionRecorder,
                   clock: Clock) -> Security:
    """Raises ``KeyFileError`` (a ValueError, one line) when the keys file is unusable."""
    ring = KeyRing.load(settings.auth_keys_file) if settings.auth_keys_file else None
    gate = Gate(ring, limit_of(settings.rate_limit, settings.rate_limit_burst), Buckets(clock),
                recorder)
    warning = exposure_warning(settings)
    if warning:
        log.warning(warning)
    if ring is not None:
        log.info("API keys: %d key(s) from %s", len(ring.keys), ring.path)
    if not gate.enabled:
        return Security(gate, (), ())
    return Security(gate, (gate_middleware(gate),), (GateInterceptor(gate),))


def exposure_warning(settings: ServeSettings) -> str | None:
    """One line when the server listens beyond this machine without TLS: with no keys either,
    anyone who can reach it may use it; with keys, the keys cross the network in clear text."""
    tls = getattr(settings, "tls_cert_file", None) is not None
    if tls or _loopback(settings.host):
        return None
    if settings.auth_keys_file is None:
        return (f"listening on {settings.host} with neither TLS nor API keys: anyone who can "
                "reach the ports can infer, read /metrics and the dashboard "
                "(see docs/security.md: --auth-keys-file, --tls-cert-file)")
    return (f"listening on {settings.host} with API keys but without TLS: keys cross the "
            "network in clear text (see docs/security.md: --tls-cert-file)")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

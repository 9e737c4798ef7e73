"""The one admission check both protocols call: who is asking, may they, and are they over
their rate. Returns a :class:`Denial` the adapters turn into 401/403/429 or the gRPC status.

    denial = await gate.check(authorization, action, model, client="10.0.0.7")

With keys, the bucket is the key's (its own ``rate``/``burst``, else the server default);
without keys, the server default applies per client address. Open actions (health) are never
checked nor limited. Messages never contain the presented secret.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ebb.core.caller import set_principal
from ebb.security.keyring import KeyRing
from ebb.security.keys import ApiKey
from ebb.security.policy import Action, permission
from ebb.security.ratelimit import Buckets, Limit, limit_of
from ebb.security.verifier import Verifier

UNAUTHENTICATED = "unauthenticated"
FORBIDDEN = "forbidden"
RATE_LIMITED = "rate_limited"
REASONS = (UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED)

log = logging.getLogger("ebb.security")

_MISSING = "this endpoint needs an API key: send 'Authorization: Bearer <key>'"
_MALFORMED = "the Authorization header must be 'Bearer <key>'"
_INVALID = "the API key is not valid (unknown, revoked or mistyped)"


HTTP_STATUS = {UNAUTHENTICATED: 401, FORBIDDEN: 403, RATE_LIMITED: 429}


@dataclass(frozen=True)
class Denial:
    reason: str
    """One of REASONS."""
    message: str
    retry_after_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused inference, as a refusal hook (the inference log) sees it. Never holds the
    presented secret: the key id only once the secret matched it."""

    status: int
    """401, 403 or 429."""
    message: str
    """The message the client got."""
    protocol: str
    """"rest", "rest_v1" or "grpc"."""
    model: str | None
    """None when the request was refused before its model was read (a gRPC stream)."""
    key_id: str | None


RefusalHook = Callable[[Refusal], None]
"""Called on the event loop for each refused inference; must not block."""


class RejectionRecorder(Protocol):
    def rejected(self, reason: str, protocol: str) -> None: ...


class NullRejections:
    def rejected(self, reason: str, protocol: str) -> None:
        pass


def bearer_secret(authorization: str | None) -> str | Denial:
    """The secret of an ``Authorization: Bearer <secret>`` value, or why it is unusable."""
    if not authorization or not authorization.strip():
        return Denial(UNAUTHENTICATED, _MISSING)
    scheme, _, secret = authorization.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or len(secret.split()) != 1:
        return Denial(UNAUTHENTICATED, _MALFORMED)
    return secret


class Gate:
    """Keys (optional) plus rate limits (optional); see the module docstring."""

    def __init__(self, ring: KeyRing | None, default: Limit | None, buckets: Buckets,
                 recorder: RejectionRecorder) -> None:
        self.ring = ring
        self.default = default
        self.verifier = Verifier()
        self._buckets = buckets
        self._recorder = recorder
        self.refusal_hooks: list[RefusalHook] = []
        """Told of every refused inference (``refused``); the inference log adds itself."""
        if ring is not None:
            ring.on_change(self.verifier.forget_changed)

    @property
    def enabled(self) -> bool:
        return self.ring is not None or self.default is not None

    async def check(self, authorization: str | None, action: Action, model: str | None,
                    client: str, protocol: str, inference: str | None = None
                    ) -> Denial | None:
        """Admit (None) or refuse a request; refusals are counted by reason and protocol.
        ``inference``: the protocol to log a refused inference under (None: not one)."""
        if action is Action.OPEN:
            return None
        key = await self.identify(authorization)
        denial = key if isinstance(key, Denial) else self.admit(key, action, model, client)
        if denial is not None:
            self._recorder.rejected(denial.reason, protocol)
            if inference is not None:
                self.refused(denial, inference, model, key if isinstance(key, ApiKey) else None)
        elif isinstance(key, ApiKey):
            set_principal(key.id)  # the caller's task: the inference log reads it
        return denial

    async def identify(self, authorization: str | None) -> ApiKey | Denial | None:
        """The caller's key (None when keys are off), or a 401 denial."""
        if self.ring is None:
            return None
        secret = bearer_secret(authorization)
        if isinstance(secret, Denial):
            return secret
        key = await self.verifier.identify(secret, self.ring.keys)
        return key if key is not None else Denial(UNAUTHENTICATED, _INVALID)

    def allowed(self, key: ApiKey | None, action: Action, model: str | None) -> Denial | None:
        """The role and model check alone (None: allowed, or keys are off)."""
        if key is None:
            return None
        refused = permission(key, action, model)
        return None if refused is None else Denial(FORBIDDEN, refused)

    def admit(self, key: ApiKey | None, action: Action, model: str | None,
              client: str) -> Denial | None:
        """Role, model and rate, for an identified caller (key None: keys are off)."""
        return self.allowed(key, action, model) or self.limit(key, client)

    def limit(self, key: ApiKey | None, client: str) -> Denial | None:
        limit = limit_of(key.rate, key.burst) if key is not None else None
        limit = limit or self.default
        if limit is None:
            return None
        name = f"key:{key.id}" if key is not None else f"client:{client}"
        wait_s = self._buckets.take(name, limit)
        if not wait_s:
            return None
        who = f"key {key.id!r}" if key is not None else "this client"
        return Denial(RATE_LIMITED, f"{who} is over its rate limit of {limit.rate:g} "
                                    f"requests/s (burst {limit.burst:g})", wait_s)

    def record(self, denial: Denial, protocol: str) -> None:
        self._recorder.rejected(denial.reason, protocol)

    def refused(self, denial: Denial, protocol: str, model: str | None,
                key: ApiKey | None) -> None:
        """Tell the refusal hooks of a refused inference; a failing hook never fails the
        refusal (it is logged)."""
        if not self.refusal_hooks:
            return
        refusal = Refusal(HTTP_STATUS[denial.reason], denial.message, protocol, model,
                          key.id if key is not None else None)
        for hook in self.refusal_hooks:
            try:
                hook(refusal)
            except Exception:
                log.exception("refusal hook %r failed; the refusal stands", hook)

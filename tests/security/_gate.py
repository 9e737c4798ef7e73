"""What the in-process security tests share: keys with known secrets, a gate over them on a
fake clock, and a recorder that keeps the refusals."""

from __future__ import annotations

from pathlib import Path

from ebb.core.clock import FakeClock
from ebb.security.gate import Gate
from ebb.security.keyring import KeyRing
from ebb.security.keys import ApiKey, KeySet, Role, hash_secret, new_secret
from ebb.security.ratelimit import Buckets, Limit

SECRETS = {key_id: new_secret(key_id) for key_id in ("ci", "prom", "root", "slow", "revoked")}
_HASHES = {key_id: hash_secret(secret) for key_id, secret in SECRETS.items()}
KEYS = KeySet({
    "ci": ApiKey("ci", _HASHES["ci"], frozenset({Role.INFER}), frozenset({"double"})),
    "prom": ApiKey("prom", _HASHES["prom"], frozenset({Role.OBSERVE})),
    "root": ApiKey("root", _HASHES["root"], frozenset(Role)),
    "slow": ApiKey("slow", _HASHES["slow"], frozenset({Role.INFER}), None, 1.0, 2.0),
})
"""``revoked`` has a secret but no entry: it stands for a key removed from the file."""


def bearer(key_id: str) -> dict[str, str]:
    return {"authorization": f"Bearer {SECRETS[key_id]}"}


class ListRejections:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def rejected(self, reason: str, protocol: str) -> None:
        self.calls.append((reason, protocol))


def make_gate(clock: FakeClock, rejections: ListRejections, keys: bool = True,
              default: Limit | None = None) -> Gate:
    ring = KeyRing(Path("keys.toml"), KEYS, None) if keys else None
    return Gate(ring, default, Buckets(clock), rejections)

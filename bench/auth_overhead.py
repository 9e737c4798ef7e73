"""Cost of the API-key and rate-limit middleware per REST request, in process.

Calls the guarded ASGI app directly around a no-op app, so the figure is the gate alone:
action from the path, header parsing, the cached-secret HMAC and the token bucket.

    .venv/bin/python bench/auth_overhead.py
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from ebb.core.clock import MonotonicClock
from ebb.protocol.asgi import apply_middleware
from ebb.security.gate import Gate, NullRejections
from ebb.security.keyring import KeyRing
from ebb.security.keys import ApiKey, KeySet, Role, hash_secret, new_secret
from ebb.security.middleware import gate_middleware
from ebb.security.ratelimit import Buckets, Limit

ROUNDS = 200_000


async def _noop(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})


async def _send(message: Any) -> None:
    pass


async def _receive() -> Any:
    return {"type": "http.request", "body": b""}


async def _per_request_us(app: Any, headers: list[tuple[bytes, bytes]]) -> float:
    scope = {"type": "http", "method": "POST", "path": "/v2/models/m/infer",
             "headers": headers, "client": ("127.0.0.1", 5000)}
    await app(scope, _receive, _send)  # the first call pays the one scrypt
    start = time.perf_counter()
    for _ in range(ROUNDS):
        await app(scope, _receive, _send)
    return (time.perf_counter() - start) / ROUNDS * 1e6


async def main() -> None:
    secret = new_secret("bench")
    key = ApiKey("bench", hash_secret(secret), frozenset({Role.INFER}), frozenset({"m"}))
    ring = KeyRing(Path("keys.toml"), KeySet({"bench": key}), None)
    headers = [(b"content-type", b"application/json"),
               (b"authorization", f"Bearer {secret}".encode())]
    base = await _per_request_us(_noop, headers)
    cases = {"keys": Gate(ring, None, Buckets(MonotonicClock()), NullRejections()),
             "keys + rate limit": Gate(ring, Limit(1e9, 1e9), Buckets(MonotonicClock()),
                                       NullRejections()),
             "rate limit only": Gate(None, Limit(1e9, 1e9), Buckets(MonotonicClock()),
                                     NullRejections())}
    print(f"no-op app alone: {base:.2f} us/request")
    for name, gate in cases.items():
        app = apply_middleware(_noop, [gate_middleware(gate)])
        print(f"{name}: +{await _per_request_us(app, headers) - base:.2f} us/request")


if __name__ == "__main__":
    asyncio.run(main())

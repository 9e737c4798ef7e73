"""Checking presented secrets against the keys' scrypt hashes, fast after the first time.

scrypt costs tens of milliseconds on purpose, far too much per request. So once a secret has
verified, the verifier remembers, per key id, a keyed digest of it (keyed BLAKE2b, a MAC like
HMAC-SHA256 at a quarter of its cost, under a random per-process key; compared with
``hmac.compare_digest``) and the hash it matched; a request with the same secret then costs
one keyed digest. Nothing remembered can be turned back into a secret. The memory is keyed to
the hash, so a changed or revoked key drops out by itself: its id is gone, or its hash
differs. Refused secrets are remembered too (bounded), so a client retrying a bad secret costs
no scrypt either.

scrypt runs in threads (it releases the GIL), at most `concurrency` at once, and concurrent
checks of one secret share one scrypt: a burst of bad secrets cannot stall the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os

from ebb.security.keys import ApiKey, KeySet, secret_key_id, verify_secret

_REFUSED_CAPACITY = 4096


class Verifier:
    def __init__(self, concurrency: int = 2) -> None:
        self._mac_key = os.urandom(32)
        self._verified: dict[str, tuple[bytes, str]] = {}   # key id -> (digest, hash)
        self._refused: dict[bytes, str] = {}                 # digest -> hash it failed
        self._pending: dict[bytes, asyncio.Future[bool]] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self.scrypt_runs = 0

    def _digest(self, secret: str) -> bytes:
        return hashlib.blake2b(secret.encode("utf-8", "surrogatepass"), key=self._mac_key,
                               digest_size=32).digest()

    def cached(self, secret: str, keys: KeySet) -> ApiKey | bool | None:
        """The key when `secret` is known good, False when known bad, None when unknown."""
        key_id = secret_key_id(secret)
        key = keys.keys.get(key_id) if key_id is not None else None
        if key is None:
            return False
        digest = self._digest(secret)
        seen = self._verified.get(key.id)
        if seen is not None and seen[1] == key.hash and hmac.compare_digest(seen[0], digest):
            return key
        if self._refused.get(digest) == key.hash:
            return False
        return None

    async def identify(self, secret: str, keys: KeySet) -> ApiKey | None:
        """The key `secret` belongs to, or None; runs scrypt only for a secret not seen yet."""
        found = self.cached(secret, keys)
        if found is not None:
            return found if isinstance(found, ApiKey) else None
        key_id = secret_key_id(secret)
        assert key_id is not None
        key = keys.keys[key_id]
        digest = self._digest(secret)
        pending = self._pending.get(digest)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._pending[digest] = pending
            try:
                good = await self._scrypt(secret, key.hash)
                pending.set_result(good)
            except BaseException:
                pending.set_result(False)  # waiters are refused; nothing is remembered
                raise
            finally:
                del self._pending[digest]
            self._remember(key, digest, good)
        good = await asyncio.shield(pending)
        return key if good else None

    async def _scrypt(self, secret: str, encoded: str) -> bool:
        async with self._slots:
            self.scrypt_runs += 1
            return await asyncio.to_thread(verify_secret, secret, encoded)

    def _remember(self, key: ApiKey, digest: bytes, good: bool) -> None:
        if good:
            self._verified[key.id] = (digest, key.hash)
            return
        if len(self._refused) >= _REFUSED_CAPACITY:
            self._refused.clear()
        self._refused[digest] = key.hash

    def forget_changed(self, keys: KeySet) -> None:
        """Drop what no longer matches `keys` (called when the keys file changes)."""
        self._verified = {key_id: seen for key_id, seen in self._verified.items()
                          if key_id in keys.keys and keys.keys[key_id].hash == seen[1]}
        self._refused.clear()

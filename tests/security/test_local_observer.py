"""The in-memory observe key ``ebb serve --prometheus`` scrapes with: it lets /metrics in, stays
over re-reads of the keys file, and is never written to it."""

from __future__ import annotations

import os
from pathlib import Path

from ebb.config import ServeSettings
from ebb.core.clock import FakeClock
from ebb.security.keys import ApiKey, Role, hash_secret, new_secret, read_keys_file, write_keys_file
from ebb.security.policy import Action
from ebb.security.wiring import LOCAL_OBSERVER_ID, build_security
from tests.security._gate import ListRejections


async def test_the_local_observer_key_survives_re_reads_and_stays_out_of_the_file(
        tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.toml"
    ci = new_secret("ci")
    write_keys_file(keys_file, [ApiKey("ci", hash_secret(ci), frozenset({Role.INFER}))])
    settings = ServeSettings(auth_keys_file=keys_file)  # type: ignore[call-arg]
    security = build_security(settings, ListRejections(), FakeClock())
    secret = security.grant_local_observer()
    assert secret is not None and secret.startswith(f"ebb_{LOCAL_OBSERVER_ID}.")
    gate = security.gate
    authorization = f"Bearer {secret}"
    assert await gate.check(authorization, Action.OBSERVE, None, "127.0.0.1", "rest") is None
    assert await gate.check(authorization, Action.INFER, "m", "127.0.0.1", "rest") is not None

    write_keys_file(keys_file, [ApiKey("ci", hash_secret(ci), frozenset({Role.INFER})),
                                ApiKey("other", hash_secret(new_secret("other")),
                                       frozenset({Role.INFER}))])
    os.utime(keys_file, ns=(1, 1))  # a new signature even within the clock's resolution
    assert gate.ring is not None and gate.ring.poll()
    assert set(gate.ring.keys.keys) == {"ci", "other", LOCAL_OBSERVER_ID}
    assert await gate.check(authorization, Action.OBSERVE, None, "127.0.0.1", "rest") is None
    assert set(read_keys_file(keys_file).keys) == {"ci", "other"}
    assert secret not in keys_file.read_text()


def test_without_keys_there_is_no_local_observer_key() -> None:
    security = build_security(ServeSettings(), ListRejections(), FakeClock())
    assert security.grant_local_observer() is None

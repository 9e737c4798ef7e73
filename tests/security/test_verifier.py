"""Verifying secrets: one scrypt per new secret, then a keyed digest; revocation and changes
drop out of the memory; the keys file is re-read on change and a broken one is kept out."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from ebb.security.keyring import KeyRing
from ebb.security.keys import ApiKey, KeySet, Role, hash_secret, new_secret, write_keys_file
from ebb.security.verifier import Verifier

SECRET = new_secret("ci")
KEY = ApiKey("ci", hash_secret(SECRET), frozenset({Role.INFER}))
KEYS = KeySet({"ci": KEY})


async def test_a_good_secret_costs_one_scrypt_then_none() -> None:
    verifier = Verifier()
    assert await verifier.identify(SECRET, KEYS) == KEY
    for _ in range(100):
        assert await verifier.identify(SECRET, KEYS) == KEY
    assert verifier.scrypt_runs == 1


async def test_bad_secrets_are_refused_and_remembered() -> None:
    verifier = Verifier()
    wrong = new_secret("ci")
    assert await verifier.identify(wrong, KEYS) is None
    assert await verifier.identify(wrong, KEYS) is None
    assert verifier.scrypt_runs == 1
    # unknown ids and malformed secrets cost no scrypt at all
    for presented in (new_secret("nobody"), "ebb_ci", "hunter2", "ebb_ci." + "x" * 400,
                      "ebb_c i.abc", "ebb_ci/x.abc", "ebb_../ci.abc"):
        assert await verifier.identify(presented, KEYS) is None
    assert verifier.scrypt_runs == 1


async def test_concurrent_checks_of_one_secret_share_one_scrypt() -> None:
    verifier = Verifier()
    found = await asyncio.gather(*(verifier.identify(SECRET, KEYS) for _ in range(20)))
    assert found == [KEY] * 20
    assert verifier.scrypt_runs == 1


async def test_revoked_and_changed_keys_drop_out() -> None:
    verifier = Verifier()
    assert await verifier.identify(SECRET, KEYS) == KEY
    assert await verifier.identify(SECRET, KeySet({})) is None  # revoked
    rotated_secret = new_secret("ci")
    rotated = KeySet({"ci": ApiKey("ci", hash_secret(rotated_secret), KEY.roles)})
    verifier.forget_changed(rotated)
    assert await verifier.identify(SECRET, rotated) is None  # the old secret of a changed key
    assert await verifier.identify(rotated_secret, rotated) is not None


def _write(path: Path, keys: list[ApiKey]) -> None:
    write_keys_file(path, keys)


async def test_the_ring_re_reads_changes_and_keeps_keys_when_the_file_breaks(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "keys.toml"
    _write(path, [KEY])
    ring = KeyRing.load(path)
    seen: list[int] = []
    ring.on_change(lambda keys: seen.append(len(keys)))
    assert not ring.poll()
    other = ApiKey("other", KEY.hash, frozenset({Role.OBSERVE}))
    _write(path, [KEY, other])
    assert ring.poll() and set(ring.keys.keys) == {"ci", "other"} and seen == [2]
    with caplog.at_level(logging.ERROR, "ebb.security"):
        path.write_text("[[keys]\n")
        assert not ring.poll()
        assert not ring.poll()  # logged once, not every poll
        os.unlink(path)
        assert not ring.poll()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert "not valid TOML" in errors[0] and "keeping the 2 key(s)" in errors[0]
    assert "cannot read keys file" in errors[1]
    assert set(ring.keys.keys) == {"ci", "other"}
    _write(path, [other])
    assert ring.poll() and set(ring.keys.keys) == {"other"}


async def test_the_watch_loop_polls_until_stopped(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    _write(path, [KEY])
    ring = KeyRing.load(path)
    stopping = asyncio.Event()
    task = asyncio.create_task(ring.watch(stopping, 0.01))
    _write(path, [])
    for _ in range(200):
        if not ring.keys.keys:
            break
        await asyncio.sleep(0.01)
    assert len(ring.keys) == 0
    stopping.set()
    await asyncio.wait_for(task, 1)

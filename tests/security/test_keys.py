"""The keys file, secrets and their hashes: pure parsing and validation, real scrypt."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ebb.security.keys import (
    ApiKey,
    KeyFileError,
    Role,
    format_keys,
    hash_secret,
    new_secret,
    parse_keys,
    read_keys_file,
    secret_key_id,
    verify_secret,
    write_keys_file,
)

SECRET = new_secret("ci")
HASH = hash_secret(SECRET)


def _toml(body: str) -> str:
    return f'[[keys]]\nid = "ci"\nhash = "{HASH}"\n{body}'


def test_a_secret_names_its_key_and_is_long_and_random() -> None:
    other = new_secret("ci")
    assert SECRET.startswith("ebb_ci.") and other != SECRET
    assert len(SECRET) > 40
    assert secret_key_id(SECRET) == "ci"


@pytest.mark.parametrize("presented", [
    "", "ci.abc", "ebb_", "ebb_ci", "ebb_ci.", "ebb_.abc", "ebb_ci." + "a" * 300,
    "Bearer ebb_ci.abc"])
def test_malformed_secrets_name_no_key(presented: str) -> None:
    assert secret_key_id(presented) is None


def test_hash_is_salted_self_describing_and_verifies_only_its_secret() -> None:
    again = hash_secret(SECRET)
    assert again != HASH  # random salt
    assert HASH.split("$")[:4] == ["scrypt", "16384", "8", "1"]
    assert SECRET not in HASH
    assert verify_secret(SECRET, HASH) and verify_secret(SECRET, again)
    assert not verify_secret(SECRET + "x", HASH)
    assert not verify_secret(new_secret("ci"), HASH)


def test_a_full_file_parses() -> None:
    keys = parse_keys(_toml('roles = ["infer", "observe"]\nmodels = ["double"]\nrate = 5\n'
                            'burst = 10\n'), yaml_format=False)
    key = keys.keys["ci"]
    assert key.roles == {Role.INFER, Role.OBSERVE}
    assert key.models == {"double"}
    assert (key.rate, key.burst) == (5.0, 10.0)


def test_defaults_every_model_no_rate_and_burst_of_one_second() -> None:
    key = parse_keys(_toml('roles = ["admin"]\n'), False).keys["ci"]
    assert key.models is None and key.rate is None
    assert parse_keys(_toml('roles = ["infer"]\nrate = 0.5\n'), False).keys["ci"].burst == 1.0


def test_yaml_and_toml_round_trip(tmp_path: Path) -> None:
    keys = [ApiKey("a", HASH, frozenset({Role.INFER}), frozenset({"m", "n"}), 2.0, 3.0),
            ApiKey("b-2", HASH, frozenset({Role.OBSERVE, Role.ADMIN}))]
    for name in ("keys.toml", "keys.yaml"):
        path = tmp_path / name
        write_keys_file(path, keys)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert list(read_keys_file(path).keys.values()) == keys
    assert parse_keys(format_keys([], False), False).keys == {}
    assert parse_keys(format_keys([], True), True).keys == {}


@pytest.mark.parametrize(("body", "message"), [
    ('roles = ["infer"]\nsecret = "x"\n', "unknown field(s) secret"),
    ('roles = []\n', "roles must be a non-empty list"),
    ('roles = ["root"]\n', "unknown role(s) root"),
    ('roles = "infer"\n', "roles must be a non-empty list"),
    ('roles = ["infer"]\nmodels = "m"\n', "models must be a list"),
    ('roles = ["infer"]\nmodels = [""]\n', "models must be a list"),
    ('roles = ["infer"]\nrate = 0\n', "rate must be a number"),
    ('roles = ["infer"]\nrate = "fast"\n', "rate must be a number"),
    ('roles = ["infer"]\nrate = 1\nburst = 0.5\n', "burst must be a number"),
    ('roles = ["infer"]\nburst = 3\n', "burst needs a rate"),
])
def test_bad_entries_are_one_line_naming_the_key(body: str, message: str) -> None:
    with pytest.raises(KeyFileError) as caught:
        parse_keys(_toml(body), False)
    assert "key 'ci'" in str(caught.value) and message in str(caught.value)


@pytest.mark.parametrize(("text", "message"), [
    ("[[keys]]\nroles = ['infer']\n", "id must be"),
    ('[[keys]]\nid = "a b"\n', "id must be"),
    ('[[keys]]\nid = "ci"\nroles = ["infer"]\n', "hash is missing"),
    ('[[keys]]\nid = "ci"\nhash = "sha256$abc"\nroles = ["infer"]\n', "scrypt$n$r$p"),
    ('[[keys]]\nid = "ci"\nhash = "scrypt$1048576$32$1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"\n'
     'roles = ["infer"]\n', "out of range"),
    ('[[keys]]\nid = "ci"\nhash = "scrypt$1000$8$1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"\n'
     'roles = ["infer"]\n', "out of range"),
    ('[[keys]]\nid = "ci"\nhash = "scrypt$x$8$1$a$b"\nroles = ["infer"]\n', "non-numeric"),
    ("keys = 3\n", "'keys' must be a list"),
    ("other = 1\n", "one list named 'keys'"),
    ("[[keys\n", "not valid TOML"),
])
def test_bad_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(KeyFileError) as caught:
        parse_keys(text, False)
    assert message in str(caught.value)


def test_duplicate_ids_are_refused() -> None:
    entry = _toml('roles = ["infer"]\n')
    with pytest.raises(KeyFileError, match="appears twice"):
        parse_keys(entry + "\n" + entry, False)


def test_unreadable_files_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"cannot read keys file .*missing\.toml"):
        read_keys_file(tmp_path / "missing.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(KeyFileError, match="not UTF-8"):
        read_keys_file(tmp_path / "bin.toml")

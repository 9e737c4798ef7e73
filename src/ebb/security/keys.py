"""API keys: the keys file (parse, validate, write), secrets and their scrypt hashes.

The file holds only hashes, never secrets; a secret is shown once, when ``ebb keys create``
makes it. A secret names its key (``ebb_<id>.<random>``), so checking a presented secret costs
one scrypt against one hash, and a secret for an unknown id is refused without hashing::

    [[keys]]
    id = "ci"
    hash = "scrypt$16384$8$1$<salt>$<digest>"
    roles = ["infer"]
    models = ["double"]     # optional: every model when absent
    rate = 20               # optional: requests/s (else the server's --rate-limit)
    burst = 40              # optional: bucket size (default: max(1, rate))

YAML files (``.yaml``/``.yml``) hold the same list under ``keys:``. Everything here is pure
apart from :func:`read_keys_file`/:func:`write_keys_file`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any


class Role(Enum):
    INFER = "infer"        # infer, model metadata and readiness
    OBSERVE = "observe"    # /metrics, the dashboard's data, server metadata, /openapi.json
    ADMIN = "admin"        # whatever changes server state (model load/unload, later)


ROLE_NAMES = tuple(role.value for role in Role)
SECRET_PREFIX = "ebb_"
MAX_SECRET_CHARS = 256
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FIELDS = frozenset({"id", "hash", "roles", "models", "rate", "burst"})
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 1 << 14, 8, 1
_MAX_SCRYPT_MEMORY = 1 << 28   # a file cannot make one check cost more than 256 MiB


class KeyFileError(ValueError):
    """The keys file (or a value for it) is invalid; the message names the key and field."""


@dataclass(frozen=True)
class ApiKey:
    id: str
    hash: str
    roles: frozenset[Role]
    models: frozenset[str] | None = None
    """None: every model."""
    rate: float | None = None
    burst: float | None = None


@dataclass(frozen=True)
class KeySet:
    keys: Mapping[str, ApiKey]

    def __len__(self) -> int:
        return len(self.keys)


def new_secret(key_id: str) -> str:
    """A fresh secret for `key_id`: the prefix, the id, a dot, 256 random bits."""
    return f"{SECRET_PREFIX}{key_id}.{secrets.token_urlsafe(32)}"


def valid_key_id(key_id: str) -> bool:
    return _ID.match(key_id) is not None


def secret_key_id(secret: str) -> str | None:
    """The key id a secret names, or None when it is not shaped like an Ebb secret. Not
    validated as an id (the hot path): looked up among valid ids, a bad one finds nothing."""
    if len(secret) > MAX_SECRET_CHARS or not secret.startswith(SECRET_PREFIX):
        return None
    key_id, dot, rest = secret[len(SECRET_PREFIX):].partition(".")
    if not dot or not rest or not key_id:
        return None
    return key_id


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    memory = 128 * r * (n + p + 2) + (1 << 20)
    return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=memory, dklen=32)


def hash_secret(secret: str) -> str:
    """``scrypt$n$r$p$salt$digest`` with a random salt: slow on purpose, salted, self-describing."""
    salt = os.urandom(16)
    digest = _scrypt(secret, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _parse_hash(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise KeyFileError("hash must be scrypt$n$r$p$salt$digest (made by `ebb keys create`)")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise KeyFileError("hash has a non-numeric parameter or bad base64") from None
    if n < 2 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16 \
            or 128 * r * n > _MAX_SCRYPT_MEMORY:
        raise KeyFileError(f"hash parameters n={n} r={r} p={p} are out of range")
    if len(salt) < 8 or len(digest) < 16:
        raise KeyFileError("hash salt or digest is too short")
    return n, r, p, salt, digest


def verify_secret(secret: str, encoded: str) -> bool:
    """Whether `secret` hashes to `encoded` (constant-time compare); slow: one scrypt."""
    n, r, p, salt, digest = _parse_hash(encoded)
    return hmac.compare_digest(_scrypt(secret, salt, n, r, p)[:len(digest)], digest)


def parse_keys(text: str, yaml_format: bool) -> KeySet:
    """Validate a keys file's text; raises :class:`KeyFileError` with one line."""
    try:
        if yaml_format:
            import yaml

            document = yaml.safe_load(text) or {}
        else:
            document = tomllib.loads(text)
    except Exception as error:
        raise KeyFileError(f"not valid {'YAML' if yaml_format else 'TOML'}: {error}") from None
    if not isinstance(document, dict) or set(document) - {"keys"}:
        raise KeyFileError("the file must hold one list named 'keys'")
    entries = document.get("keys", [])
    if not isinstance(entries, list):
        raise KeyFileError("'keys' must be a list of tables")
    keys: dict[str, ApiKey] = {}
    for index, entry in enumerate(entries):
        key = _parse_entry(entry, index)
        if key.id in keys:
            raise KeyFileError(f"key id {key.id!r} appears twice")
        keys[key.id] = key
    return KeySet(keys)


def _parse_entry(entry: Any, index: int) -> ApiKey:
    where = f"key #{index + 1}"
    if not isinstance(entry, dict):
        raise KeyFileError(f"{where} must be a table")
    key_id = entry.get("id")
    if not isinstance(key_id, str) or not _ID.match(key_id):
        raise KeyFileError(f"{where}: id must be 1-64 letters, digits, '_' or '-'")
    where = f"key {key_id!r}"
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise KeyFileError(f"{where}: unknown field(s) {', '.join(unknown)}; "
                           f"known: {', '.join(sorted(_FIELDS))}")
    encoded = entry.get("hash")
    if not isinstance(encoded, str):
        raise KeyFileError(f"{where}: hash is missing")
    try:
        _parse_hash(encoded)
        roles = parse_roles(entry.get("roles"))
        models = _parse_models(entry.get("models"))
        rate, burst = parse_rate(entry.get("rate"), entry.get("burst"))
    except KeyFileError as error:
        raise KeyFileError(f"{where}: {error}") from None
    return ApiKey(key_id, encoded, roles, models, rate, burst)


def parse_roles(value: Any) -> frozenset[Role]:
    if not isinstance(value, list) or not value:
        raise KeyFileError(f"roles must be a non-empty list of {', '.join(ROLE_NAMES)}")
    unknown = [str(role) for role in value if role not in ROLE_NAMES]
    if unknown:
        raise KeyFileError(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLE_NAMES)}")
    return frozenset(Role(role) for role in value)


def _parse_models(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
        raise KeyFileError("models must be a list of model names")
    return frozenset(value)


def parse_rate(rate: Any, burst: Any) -> tuple[float | None, float | None]:
    """A key's own limit: rate in requests/s (> 0), burst (>= 1, needs a rate)."""
    if rate is None:
        if burst is not None:
            raise KeyFileError("burst needs a rate")
        return None, None
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1e6:
        raise KeyFileError(f"rate must be a number of requests/s above 0, not {rate!r}")
    if burst is None:
        return float(rate), max(1.0, float(rate))
    if isinstance(burst, bool) or not isinstance(burst, int | float) or not 1 <= burst <= 1e7:
        raise KeyFileError(f"burst must be a number of requests, at least 1, not {burst!r}")
    return float(rate), float(burst)


def format_keys(keys: Iterable[ApiKey], yaml_format: bool) -> str:
    """The file text for `keys`, in the order given."""
    entries = [_entry(key) for key in keys]
    header = ("# Ebb API keys: hashes only (scrypt). Managed by `ebb keys create/list/revoke`;\n"
              "# a running server re-reads this file when it changes.\n")
    if yaml_format:
        import yaml

        return header + yaml.safe_dump({"keys": entries}, sort_keys=False)
    blocks = []
    for entry in entries:
        lines = ["[[keys]]"] + [f"{name} = {json.dumps(value)}" for name, value in entry.items()]
        blocks.append("\n".join(lines) + "\n")
    return header + "\n" + "\n".join(blocks) if blocks else header + "keys = []\n"


def _entry(key: ApiKey) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": key.id, "hash": key.hash,
                             "roles": [role.value for role in Role if role in key.roles]}
    if key.models is not None:
        entry["models"] = sorted(key.models)
    if key.rate is not None:
        entry["rate"] = key.rate
        entry["burst"] = key.burst
    return entry


def is_yaml(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml")


def read_keys_file(path: Path) -> KeySet:
    try:
        text = path.read_text()
    except OSError as error:
        raise KeyFileError(f"cannot read keys file {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise KeyFileError(f"keys file {path} is not UTF-8 text") from None
    try:
        return parse_keys(text, is_yaml(path))
    except KeyFileError as error:
        raise KeyFileError(f"keys file {path}: {error}") from None


def write_keys_file(path: Path, keys: Iterable[ApiKey]) -> None:
    """Replace the file atomically (a server polling it never reads half), mode 0600."""
    text = format_keys(keys, is_yaml(path))
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise

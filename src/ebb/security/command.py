"""``ebb keys create | list | revoke``: manage the API keys file a server reads.

``create`` prints the new secret alone on stdout, once (it is stored only as a hash); the file
is created with mode 0600 and replaced atomically, so a running server sees the old file or the
new one and picks the change up within a second or two. Exit status: 0 done, 1 the file could
not be read or written, 2 invalid arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ebb.security.keys import (
    ROLE_NAMES,
    ApiKey,
    KeyFileError,
    KeySet,
    hash_secret,
    new_secret,
    parse_rate,
    parse_roles,
    read_keys_file,
    valid_key_id,
    write_keys_file,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a key; prints its secret once",
                                description="Make a key, append its hash to the file (created "
                                            "with mode 0600) and print the secret once.")
    create.add_argument("--file", type=Path, required=True, help="keys file (.toml or .yaml)")
    create.add_argument("--id", required=True, dest="key_id",
                        help="a name for the key: letters, digits, '_' or '-'")
    create.add_argument("--role", action="append", dest="roles", required=True,
                        choices=ROLE_NAMES, help="infer, observe or admin; repeatable")
    create.add_argument("--model", action="append", dest="models", metavar="MODEL",
                        help="a model the key may use, repeatable (default: every model)")
    create.add_argument("--rate", type=float, help="requests/s for this key "
                                                   "(default: the server's --rate-limit)")
    create.add_argument("--burst", type=float, help="requests back to back (default: the rate)")
    listing = actions.add_parser("list", help="show the keys (never their hashes)")
    listing.add_argument("--file", type=Path, required=True, help="keys file")
    revoke = actions.add_parser("revoke", help="remove a key; servers drop it within seconds")
    revoke.add_argument("--file", type=Path, required=True, help="keys file")
    revoke.add_argument("key_id", metavar="ID", help="the key to remove")


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "create":
            return _create(args)
        if args.action == "list":
            return _list(args.file)
        return _revoke(args.file, args.key_id)
    except KeyFileError as error:
        print(f"ebb: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"ebb: cannot write {args.file}: {error.strerror}", file=sys.stderr)
        return 1


def _existing(path: Path) -> KeySet:
    return read_keys_file(path) if path.exists() else KeySet({})


def _create(args: argparse.Namespace) -> int:
    if not valid_key_id(args.key_id):
        return _usage(f"--id {args.key_id!r} must be 1-64 letters, digits, '_' or '-'")
    try:
        roles = parse_roles(args.roles)
        rate, burst = parse_rate(args.rate, args.burst)
    except KeyFileError as error:
        return _usage(str(error).replace("burst needs a rate", "--burst needs --rate"))
    keys = _existing(args.file)
    if args.key_id in keys.keys:
        return _usage(f"key {args.key_id!r} already exists in {args.file}; revoke it first or "
                      "choose another --id (rotate: create the new key, switch, revoke the old)")
    models = frozenset(args.models) if args.models else None
    secret = new_secret(args.key_id)
    key = ApiKey(args.key_id, hash_secret(secret), roles, models, rate, burst)
    write_keys_file(args.file, [*keys.keys.values(), key])
    print(secret, flush=True)
    print(f"ebb: key {args.key_id!r} added to {args.file}; the secret above is shown only "
          "now: send it as 'Authorization: Bearer <secret>'", file=sys.stderr)
    return 0


def _list(path: Path) -> int:
    keys = read_keys_file(path)
    rows = [("ID", "ROLES", "MODELS", "RATE", "BURST")]
    for key in keys.keys.values():
        rows.append((key.id, ",".join(sorted(role.value for role in key.roles)),
                     ",".join(sorted(key.models)) if key.models is not None else "*",
                     f"{key.rate:g}" if key.rate is not None else "-",
                     f"{key.burst:g}" if key.burst is not None else "-"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
    return 0


def _revoke(path: Path, key_id: str) -> int:
    keys = read_keys_file(path)
    if key_id not in keys.keys:
        return _usage(f"no key {key_id!r} in {path}")
    write_keys_file(path, [key for key in keys.keys.values() if key.id != key_id])
    print(f"ebb: key {key_id!r} revoked; servers reading {path} drop it within seconds",
          file=sys.stderr)
    return 0


def _usage(message: str) -> int:
    print(f"ebb: {message}", file=sys.stderr)
    return 2

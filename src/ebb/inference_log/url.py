"""Where the inference log lives: ``sqlite:///PATH`` or ``postgresql://USER@HOST:PORT/DB``.

Parsed once, at the settings edge, without touching a driver or the file system, so a typo is a
one-line settings error before anything starts. SQLite follows the common URL convention: three
slashes and a relative path (``sqlite:///log.db``), four for an absolute one
(``sqlite:////var/lib/ebb/log.db``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

Engine = Literal["sqlite", "postgresql"]

EXPECTED = "expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB"


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A checked database address; ``target`` is the SQLite path or the libpq connection URI."""

    engine: Engine
    target: str

    def __str__(self) -> str:
        return self.target if self.engine == "postgresql" else f"sqlite:///{self.target}"


def parse_database_url(text: str) -> DatabaseUrl:
    """The ``DatabaseUrl`` for ``text``; raises ValueError with one line saying what is wrong."""
    scheme, separator, rest = text.strip().partition("://")
    if not separator:
        raise ValueError(f"{text!r} is not a URL; {EXPECTED}")
    scheme = scheme.lower()
    if scheme == "sqlite":
        return _sqlite(rest)
    if scheme in ("postgresql", "postgres"):
        return _postgresql(text.strip())
    raise ValueError(f"unsupported database {scheme!r}; {EXPECTED}")


def _sqlite(rest: str) -> DatabaseUrl:
    if not rest.startswith("/"):
        raise ValueError(f"sqlite URLs have no host: sqlite:///PATH, got sqlite://{rest}")
    path = rest[1:].split("?", 1)[0]
    if not path or path.endswith("/"):
        raise ValueError("sqlite URL names no file: sqlite:///log.db or sqlite:////abs/log.db")
    if path == ":memory:":
        raise ValueError("an in-memory SQLite database would vanish with the server; name a file")
    return DatabaseUrl("sqlite", path)


def _postgresql(text: str) -> DatabaseUrl:
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"the port in {text!r} is not a number in 0-65535") from None
    if not parts.path.strip("/") and "dbname=" not in parts.query:
        raise ValueError(f"{text!r} names no database: postgresql://USER@HOST:PORT/DB")
    return DatabaseUrl("postgresql", text)

"""What a batch of ``RequestRow``s becomes in the tables once its names have ids: pure.

A request row names its model version, protocol and signature; the tables hold ids. The stores
keep the ids a connection has seen committed in an ``Ids``; ``request_values`` turns rows into
insert parameters with dict lookups alone, and returns None when a row names something new,
which the store then looks up (or adds) inside its transaction and keeps only after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ebb.inference_log.rows import RequestRow, Signature

VersionKey = tuple[str, str]
Values = tuple[Any, ...]


def _no_protocol() -> dict[str, int | None]:
    return {"": None}  # called in-process: stored as NULL


@dataclass(frozen=True, slots=True)
class Ids:
    """Ids of names already in the database (one connection's view; replaced, never edited)."""

    versions: dict[VersionKey, int] = field(default_factory=dict)
    protocols: dict[str, int | None] = field(default_factory=_no_protocol)
    signatures: dict[Signature, int] = field(default_factory=dict)

    def missing(self, rows: Sequence[RequestRow]
                ) -> tuple[set[VersionKey], set[str], set[Signature]]:
        """The versions, protocols and signatures the rows name that have no id here."""
        return ({(row[0], row[1]) for row in rows} - self.versions.keys(),
                {row.protocol for row in rows} - self.protocols.keys(),
                {row.signature for row in rows} - self.signatures.keys())

    def extended(self, versions: dict[VersionKey, int], protocols: dict[str, int | None],
                 signatures: dict[Signature, int]) -> Ids:
        return Ids({**self.versions, **versions}, {**self.protocols, **protocols},
                   {**self.signatures, **signatures})


def request_values(rows: Sequence[RequestRow], ids: Ids) -> list[Values] | None:
    """Parameters in ``REQUEST_COLUMNS`` order (without ``id``); None when a name is new."""
    versions, protocols, signatures = ids.versions, ids.protocols, ids.signatures
    try:
        return [(versions[row[0], row[1]], *row[2:11], protocols[row[11]], signatures[row[12]])
                for row in rows]
    except KeyError:
        return None


def with_ids(values: Sequence[Values], request_ids: Sequence[int]) -> list[Values]:
    return [(request_id, *value) for request_id, value in zip(request_ids, values, strict=True)]


def payload_values(rows: Sequence[RequestRow], request_ids: Sequence[int]) -> list[Values]:
    """``tensor_data`` parameters (``PAYLOAD_COLUMNS`` order); empty in ``none`` capture."""
    return [(request_id, *payload) for request_id, row in zip(request_ids, rows, strict=True)
            for payload in row.payloads]


def has_payloads(rows: Sequence[RequestRow]) -> bool:
    """Whether the batch needs request ids before the insert (to point payload rows at)."""
    return any(row.payloads for row in rows)

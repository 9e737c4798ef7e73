"""``LogEntry``s as text (table, CSV, JSON) and as a Parquet file: pure formatting.

Table cells show milliseconds for people; CSV, JSON and Parquet keep base units (seconds) and
ISO 8601 UTC times for programs.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ebb.inference_log.queries import ENTRY_COLUMNS, LogEntry

TABLE_HEADER = ("received_at (UTC)", "request_id", "model", "version", "protocol", "key",
                "status", "latency_ms", "queue_ms", "infer_ms", "batch", "error")
MAX_ERROR_CELL = 60


def iso_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def _record(entry: LogEntry) -> dict[str, Any]:
    values = {name: getattr(entry, name) for name in ENTRY_COLUMNS}
    values["received_at"] = iso_time(entry.received_at)
    return values


def as_table(entries: Sequence[LogEntry]) -> str:
    rows = [TABLE_HEADER] + [(
        iso_time(e.received_at).replace("+00:00", ""), e.request_id or "-", e.model,
        e.version or "-", e.protocol or "-", e.api_key_id or "-", str(e.status),
        f"{e.latency_s * 1000:.2f}",
        f"{e.queue_wait_s * 1000:.2f}", f"{e.inference_s * 1000:.2f}", str(e.batch_size),
        (e.error or "")[:MAX_ERROR_CELL]) for e in entries]
    widths = [max(len(row[column]) for row in rows) for column in range(len(TABLE_HEADER))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             .rstrip() for row in rows]
    return "\n".join([*lines, f"({len(entries)} request{'s' if len(entries) != 1 else ''})"])


def as_csv(entries: Sequence[LogEntry]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, ENTRY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_record(entry) for entry in entries)
    return out.getvalue()


def as_json(entries: Sequence[LogEntry]) -> str:
    return json.dumps([_record(entry) for entry in entries], indent=1)


def write_parquet(entries: Sequence[LogEntry], path: Path) -> None:
    """Raises ImportError when pyarrow (the ``ebb[log]`` extra) is not installed."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    schema = pa.schema([
        ("received_at", pa.timestamp("us", tz="UTC")), ("request_id", pa.string()),
        ("model", pa.string()), ("version", pa.string()), ("status", pa.int32()),
        ("latency_s", pa.float64()), ("queue_wait_s", pa.float64()),
        ("inference_s", pa.float64()), ("batch_size", pa.int32()), ("error", pa.string()),
        ("protocol", pa.string()), ("api_key_id", pa.string())])
    columns: dict[str, list[Any]] = {name: [] for name in ENTRY_COLUMNS}
    for entry in entries:
        for name in ENTRY_COLUMNS:
            columns[name].append(getattr(entry, name))
    columns["received_at"] = [datetime.fromtimestamp(t, UTC) for t in columns["received_at"]]
    pq.write_table(pa.table(columns, schema=schema), path)

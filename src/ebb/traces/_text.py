"""Cell and number parsing shared by every trace file format; errors name the file and line."""

from __future__ import annotations

import math

import numpy as np

from ebb.traces._model import Trace, TraceError


def split_cells(line: str) -> list[str]:
    """Cells of a CSV, TSV or whitespace-separated line (the traces never quote)."""
    if "," in line:
        return [cell.strip() for cell in line.split(",")]
    return line.split()


def time_value(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return iso_seconds(cell)
    return value if math.isfinite(value) else None


def iso_seconds(cell: str) -> float | None:
    try:
        stamp = np.datetime64(cell, "ns")
    except ValueError:
        return None
    if np.isnat(stamp):
        return None
    return float(stamp.astype(np.int64)) / 1e9


def parse_number(cell: str, source: str, line: int, what: str, *, minimum: float) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise TraceError(f"{source}:{line}: {what} {cell!r} is not a number") from None
    if not math.isfinite(value) or value < minimum:
        raise TraceError(f"{source}:{line}: {what} {cell!r} must be at least {minimum:g}")
    return value


def trace_from_times(times: list[float], sizes: list[float] | None, name: str,
                credit: str | None) -> Trace:
    if not times:
        raise TraceError(f"{name}: no arrivals in the trace")
    raw = np.asarray(times, dtype=np.float64)
    order = np.argsort(raw, kind="stable")
    arrivals = raw[order] - raw[order[0]]
    size_array = None if sizes is None else np.asarray(sizes, dtype=np.float64)[order]
    return Trace(arrivals, size_array, name, credit, float(arrivals[-1]))

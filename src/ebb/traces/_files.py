"""Reading a trace file: the format is detected from the first line."""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from pathlib import Path

from ebb.traces._azure import (
    AZURE_FUNCTIONS_PREFIX,
    AZURE_LLM_HEADER,
    parse_azure_functions,
    parse_azure_llm,
)
from ebb.traces._model import Trace, TraceError
from ebb.traces._text import parse_number, split_cells, time_value, trace_from_times
from ebb.traces._transform import scaled

BUNDLED = ("azure_llm_2023_conv.csv",)
"""Traces shipped inside the package (``ebb/traces/data``, with their credit in its README)."""


def bundled_trace(name: str) -> Path:
    """The path of a trace shipped with Ebb, by file name."""
    if name not in BUNDLED:
        raise TraceError(f"no trace {name!r} ships with Ebb; shipped: {', '.join(BUNDLED)}")
    return Path(str(resources.files("ebb.traces").joinpath("data", name)))


def read_trace(path: Path, *, speedup: float = 1.0, rate_scale: float = 1.0,
               seed: int = 0) -> Trace:
    """Read a trace file in any supported format (see :mod:`ebb.traces`), then scale it.

    A bare file name that does not exist here but names a shipped trace
    (``azure_llm_2023_conv.csv``) reads the shipped copy. `seed` draws the within-minute
    arrivals of count formats and the copies of `rate_scale`.
    """
    if not path.exists() and path.parent == Path() and path.name in BUNDLED:
        path = bundled_trace(path.name)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise TraceError(f"{path}: cannot read trace: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path}: not a text file ({exc.reason})") from exc
    lines = text.splitlines()
    header = split_cells(lines[0]) if lines else []
    lowered = tuple(cell.lower() for cell in header)
    if lowered[:3] == AZURE_LLM_HEADER:
        trace = parse_azure_llm(lines, str(path))
    elif lowered[:4] == AZURE_FUNCTIONS_PREFIX:
        trace = parse_azure_functions(lines, str(path), seed=seed)
    else:
        trace = parse_timestamps(lines, str(path))
    trace = replace(trace, name=path.name)
    return scaled(trace, speedup=speedup, rate_scale=rate_scale, seed=seed)


def parse_timestamps(lines: list[str], source: str) -> Trace:
    """One arrival per line: seconds or an ISO date-time, then an optional size.

    A first line whose first cell is not a time is a header. Blank lines and lines starting
    with ``#`` are skipped. Times need not be sorted (they are, stably, with their sizes).
    """
    times: list[float] = []
    sizes: list[float] = []
    size_lines: list[int] = []
    first_data = True
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        cells = split_cells(stripped)
        stamp = time_value(cells[0])
        if stamp is None:
            if first_data:
                first_data = False
                continue
            raise TraceError(f"{source}:{number}: {cells[0]!r} is not a time "
                             f"(seconds or ISO date-time)")
        first_data = False
        if len(cells) > 2:
            raise TraceError(f"{source}:{number}: expected 'time' or 'time,size', "
                             f"got {len(cells)} columns")
        times.append(stamp)
        if len(cells) == 2:
            sizes.append(parse_number(cells[1], source, number, "size", minimum=0.0))
            size_lines.append(number)
    if sizes and len(sizes) != len(times):
        missing = len(times) - len(sizes)
        raise TraceError(f"{source}: {missing} line(s) lack the size column that line "
                         f"{size_lines[0]} has")
    return trace_from_times(times, sizes or None, source, None)

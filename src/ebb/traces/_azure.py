"""The two Azure Public Dataset formats: LLM inference 2023 and Functions 2019."""

from __future__ import annotations

from typing import Final

import numpy as np

from ebb.traces._model import Trace, TraceError
from ebb.traces._text import iso_seconds, parse_number, split_cells, trace_from_times

AZURE_LLM_CREDIT: Final = ("Azure Public Dataset (Azure LLM inference trace 2023), CC-BY 4.0, "
                           "Patel et al., Splitwise, ISCA 2024")
AZURE_FUNCTIONS_CREDIT: Final = ("Azure Public Dataset (Azure Functions trace 2019), CC-BY 4.0, "
                                 "Shahrad et al., Serverless in the Wild, USENIX ATC 2020")
AZURE_LLM_HEADER: Final = ("timestamp", "contexttokens", "generatedtokens")
AZURE_FUNCTIONS_PREFIX: Final = ("hashowner", "hashapp", "hashfunction", "trigger")


def parse_azure_llm(lines: list[str], source: str) -> Trace:
    """The Azure LLM inference trace 2023 (``TIMESTAMP,ContextTokens,GeneratedTokens``).

    Size = context + generated tokens, the work a request asks for.
    """
    stamps: list[str] = []
    sizes: list[float] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = split_cells(line)
        if len(cells) < 3:
            raise TraceError(f"{source}:{number}: expected TIMESTAMP,ContextTokens,"
                             f"GeneratedTokens, got {line.strip()!r}")
        stamps.append(cells[0])
        context = parse_number(cells[1], source, number, "ContextTokens", minimum=0.0)
        generated = parse_number(cells[2], source, number, "GeneratedTokens", minimum=0.0)
        sizes.append(context + generated)
    try:
        clock = np.array(stamps, dtype="datetime64[ns]")
    except ValueError:
        for number, stamp in enumerate(stamps, start=2):
            if iso_seconds(stamp) is None:
                raise TraceError(f"{source}:{number}: {stamp!r} is not a date-time") from None
        raise
    seconds = (clock - clock.min()).astype(np.float64) / 1e9 if len(clock) else np.empty(0)
    return trace_from_times(seconds.tolist(), sizes, source, AZURE_LLM_CREDIT)


def parse_azure_functions(lines: list[str], source: str, *, seed: int) -> Trace:
    """Azure Functions 2019 per-minute invocation counts, all rows summed per minute.

    The source gives only counts, so inside each minute the arrivals are a Poisson process
    conditioned on the count: that many uniform draws in the minute, sorted.
    """
    header = split_cells(lines[0])
    minutes = len(header) - len(AZURE_FUNCTIONS_PREFIX)
    if minutes < 1:
        raise TraceError(f"{source}:1: no minute columns after {','.join(header)}")
    counts = np.zeros(minutes, dtype=np.int64)
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = split_cells(line)
        if len(cells) != len(header):
            raise TraceError(f"{source}:{number}: {len(cells)} columns, the header has "
                             f"{len(header)}")
        try:
            row = np.array(cells[len(AZURE_FUNCTIONS_PREFIX):], dtype=np.int64)
        except ValueError:
            raise TraceError(f"{source}:{number}: minute counts must be whole numbers") from None
        if bool(np.any(row < 0)):
            raise TraceError(f"{source}:{number}: negative invocation count")
        counts += row
    rng = np.random.default_rng(seed)
    starts = np.repeat(np.arange(minutes, dtype=np.float64) * 60.0, counts)
    arrivals = np.sort(starts + rng.random(len(starts)) * 60.0)
    return Trace(arrivals, None, source, AZURE_FUNCTIONS_CREDIT, minutes * 60.0)

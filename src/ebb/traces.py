"""Request arrival traces: when each request comes, and optionally how big it is.

One shape for every source, so the load generator and the simulator replay the same traffic:
a :class:`Trace` holds sorted arrival offsets in seconds from 0 and, where the source knows it,
a per-request size (tokens, rows). Everything here is a pure function of its arguments and a
seed; nothing reads a clock or a global random state.

    trace = read_trace(Path("azure_llm_2023_conv.csv"), speedup=10)   # format from the header
    trace = step(rate=50, to_rate=300, at_s=60, duration_s=180, seed=1)
    trace = scaled(trace, rate_scale=2.0, seed=1)

File formats (detected from the first line):

- **timestamps**: one arrival per line, seconds (any origin; shifted to start at 0) or an ISO
  date-time, with an optional second column of sizes and an optional header line.
- **Azure LLM inference trace 2023**: header ``TIMESTAMP,ContextTokens,GeneratedTokens``; the
  size of a request is ContextTokens + GeneratedTokens. Credit: :data:`AZURE_LLM_CREDIT`.
- **Azure Functions 2019** invocation counts: header ``HashOwner,HashApp,HashFunction,Trigger,
  1,2,...,1440``; the counts of all rows are summed per minute, and the arrivals inside a minute
  are drawn as a Poisson process conditioned on that minute's count (uniform order statistics),
  because the source gives counts, not times. Credit: :data:`AZURE_FUNCTIONS_CREDIT`.

A bad file raises :class:`TraceError` (a ``ValueError``) naming the file and the line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
Spacing = Literal["poisson", "uniform"]

AZURE_LLM_CREDIT: Final = ("Azure Public Dataset (Azure LLM inference trace 2023), CC-BY 4.0, "
                           "Patel et al., Splitwise, ISCA 2024")
AZURE_FUNCTIONS_CREDIT: Final = ("Azure Public Dataset (Azure Functions trace 2019), CC-BY 4.0, "
                                 "Shahrad et al., Serverless in the Wild, USENIX ATC 2020")
SYNTHETIC: Final = ("constant", "step", "spike", "ramp", "sine", "bursty")
"""Names accepted by :func:`synthetic`."""

_AZURE_LLM_HEADER: Final = ("timestamp", "contexttokens", "generatedtokens")
_AZURE_FUNCTIONS_PREFIX: Final = ("hashowner", "hashapp", "hashfunction", "trigger")
_RATE_GRID_STEPS: Final = 4096
"""Points per profile on which a varying rate is integrated and inverted (ramp, sine)."""


class TraceError(ValueError):
    """A trace file or a generator's knobs do not describe arrivals; the message says where."""


@dataclass(frozen=True, eq=False)
class Trace:
    """Arrival offsets (seconds from 0, sorted) and optional per-request sizes.

    `duration_s` is the span the trace covers, at least the last arrival: a profile that ends
    in silence keeps its silent tail, which matters to scale-in.
    """

    arrivals: FloatArray
    sizes: FloatArray | None
    """Per-request size (tokens for LLM traces), same length as arrivals; None when unknown."""
    name: str
    credit: str | None
    """Attribution to show wherever the trace or results derived from it are shown."""
    duration_s: float

    def __post_init__(self) -> None:
        if self.arrivals.ndim != 1:
            raise TraceError(f"{self.name}: arrivals must be one-dimensional")
        if self.sizes is not None and self.sizes.shape != self.arrivals.shape:
            raise TraceError(f"{self.name}: {len(self.sizes)} sizes for "
                             f"{len(self.arrivals)} arrivals")
        if len(self.arrivals):
            if self.arrivals[0] < 0 or bool(np.any(np.diff(self.arrivals) < 0)):
                raise TraceError(f"{self.name}: arrivals must be sorted and not negative")
            if self.duration_s < self.arrivals[-1]:
                raise TraceError(f"{self.name}: duration {self.duration_s} s ends before the "
                                 f"last arrival at {self.arrivals[-1]} s")
        if self.duration_s < 0 or not math.isfinite(self.duration_s):
            raise TraceError(f"{self.name}: duration must be finite and not negative")

    def __len__(self) -> int:
        return len(self.arrivals)

    @property
    def mean_rate(self) -> float:
        """Requests per second over the whole trace."""
        return len(self.arrivals) / self.duration_s if self.duration_s > 0 else 0.0


# ---------------------------------------------------------------------------------------------
# Transformations


def scaled(trace: Trace, *, speedup: float = 1.0, rate_scale: float = 1.0,
           seed: int = 0) -> Trace:
    """The trace compressed in time by `speedup` and with `rate_scale` times the requests.

    Use `speedup` to replay an hour in six minutes (the rate and its burstiness grow together);
    use `rate_scale` to keep the timing and change the volume. A `rate_scale` below 1 keeps each
    request with that probability; above 1 each request gets ``floor(scale)`` copies plus one
    more with the fractional probability, the copies spread uniformly over the gap to the next
    arrival so the rate's shape survives.
    """
    if speedup <= 0 or not math.isfinite(speedup):
        raise TraceError(f"speedup must be a positive number, got {speedup}")
    if rate_scale <= 0 or not math.isfinite(rate_scale):
        raise TraceError(f"rate scale must be a positive number, got {rate_scale}")
    arrivals = trace.arrivals / speedup
    duration = trace.duration_s / speedup
    sizes = trace.sizes
    if rate_scale != 1.0 and len(arrivals):
        rng = np.random.default_rng(seed)
        whole = math.floor(rate_scale)
        copies = np.full(len(arrivals), whole, dtype=np.int64)
        copies += rng.random(len(arrivals)) < (rate_scale - whole)
        gaps = np.diff(arrivals, append=duration)
        index = np.repeat(np.arange(len(arrivals)), copies)
        first = np.ones(len(index), dtype=bool)
        first[1:] = index[1:] != index[:-1]
        jitter = np.where(first, 0.0, rng.random(len(index)) * gaps[index])
        arrivals = arrivals[index] + jitter
        order = np.argsort(arrivals, kind="stable")
        arrivals = arrivals[order]
        sizes = None if sizes is None else sizes[index][order]
    name = trace.name
    if speedup != 1.0:
        name += f" x{speedup:g} speed"
    if rate_scale != 1.0:
        name += f" x{rate_scale:g} rate"
    return Trace(np.ascontiguousarray(arrivals, dtype=np.float64), sizes, name, trace.credit,
                 float(duration))


def window(trace: Trace, start_s: float, end_s: float) -> Trace:
    """The arrivals in ``[start_s, end_s)``, shifted to start at 0 (a training or test slice)."""
    if not 0 <= start_s < end_s:
        raise TraceError(f"window [{start_s}, {end_s}) is empty or negative")
    lo, hi = np.searchsorted(trace.arrivals, [start_s, end_s], side="left")
    sizes = None if trace.sizes is None else trace.sizes[lo:hi].copy()
    end = min(end_s, trace.duration_s)
    return Trace(trace.arrivals[lo:hi] - start_s, sizes,
                 f"{trace.name} [{start_s:g}s, {end:g}s)", trace.credit,
                 max(0.0, float(end - start_s)))


# ---------------------------------------------------------------------------------------------
# Files


def read_trace(path: Path, *, speedup: float = 1.0, rate_scale: float = 1.0,
               seed: int = 0) -> Trace:
    """Read a trace file in any supported format (see the module docstring), then scale it.

    `seed` draws the within-minute arrivals of count formats and the copies of `rate_scale`.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise TraceError(f"{path}: cannot read trace: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path}: not a text file ({exc.reason})") from exc
    lines = text.splitlines()
    header = _cells(lines[0]) if lines else []
    lowered = tuple(cell.lower() for cell in header)
    if lowered[:3] == _AZURE_LLM_HEADER:
        trace = parse_azure_llm(lines, str(path))
    elif lowered[:4] == _AZURE_FUNCTIONS_PREFIX:
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
        cells = _cells(stripped)
        stamp = _time_value(cells[0])
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
            sizes.append(_number(cells[1], source, number, "size", minimum=0.0))
            size_lines.append(number)
    if sizes and len(sizes) != len(times):
        missing = len(times) - len(sizes)
        raise TraceError(f"{source}: {missing} line(s) lack the size column that line "
                         f"{size_lines[0]} has")
    return _from_times(times, sizes or None, source, None)


def parse_azure_llm(lines: list[str], source: str) -> Trace:
    """The Azure LLM inference trace 2023 (``TIMESTAMP,ContextTokens,GeneratedTokens``).

    Size = context + generated tokens, the work a request asks for.
    """
    stamps: list[str] = []
    sizes: list[float] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = _cells(line)
        if len(cells) < 3:
            raise TraceError(f"{source}:{number}: expected TIMESTAMP,ContextTokens,"
                             f"GeneratedTokens, got {line.strip()!r}")
        stamps.append(cells[0])
        context = _number(cells[1], source, number, "ContextTokens", minimum=0.0)
        generated = _number(cells[2], source, number, "GeneratedTokens", minimum=0.0)
        sizes.append(context + generated)
    try:
        clock = np.array(stamps, dtype="datetime64[ns]")
    except ValueError:
        for number, stamp in enumerate(stamps, start=2):
            if _iso_seconds(stamp) is None:
                raise TraceError(f"{source}:{number}: {stamp!r} is not a date-time") from None
        raise
    seconds = (clock - clock.min()).astype(np.float64) / 1e9 if len(clock) else np.empty(0)
    return _from_times(seconds.tolist(), sizes, source, AZURE_LLM_CREDIT)


def parse_azure_functions(lines: list[str], source: str, *, seed: int) -> Trace:
    """Azure Functions 2019 per-minute invocation counts, all rows summed per minute.

    The source gives only counts, so inside each minute the arrivals are a Poisson process
    conditioned on the count: that many uniform draws in the minute, sorted.
    """
    header = _cells(lines[0])
    minutes = len(header) - len(_AZURE_FUNCTIONS_PREFIX)
    if minutes < 1:
        raise TraceError(f"{source}:1: no minute columns after {','.join(header)}")
    counts = np.zeros(minutes, dtype=np.int64)
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = _cells(line)
        if len(cells) != len(header):
            raise TraceError(f"{source}:{number}: {len(cells)} columns, the header has "
                             f"{len(header)}")
        try:
            row = np.array(cells[len(_AZURE_FUNCTIONS_PREFIX):], dtype=np.int64)
        except ValueError:
            raise TraceError(f"{source}:{number}: minute counts must be whole numbers") from None
        if bool(np.any(row < 0)):
            raise TraceError(f"{source}:{number}: negative invocation count")
        counts += row
    rng = np.random.default_rng(seed)
    starts = np.repeat(np.arange(minutes, dtype=np.float64) * 60.0, counts)
    arrivals = np.sort(starts + rng.random(len(starts)) * 60.0)
    return Trace(arrivals, None, source, AZURE_FUNCTIONS_CREDIT, minutes * 60.0)


def _cells(line: str) -> list[str]:
    """Cells of a CSV, TSV or whitespace-separated line (the traces never quote)."""
    if "," in line:
        return [cell.strip() for cell in line.split(",")]
    return line.split()


def _time_value(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return _iso_seconds(cell)
    return value if math.isfinite(value) else None


def _iso_seconds(cell: str) -> float | None:
    try:
        stamp = np.datetime64(cell, "ns")
    except ValueError:
        return None
    if np.isnat(stamp):
        return None
    return float(stamp.astype(np.int64)) / 1e9


def _number(cell: str, source: str, line: int, what: str, *, minimum: float) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise TraceError(f"{source}:{line}: {what} {cell!r} is not a number") from None
    if not math.isfinite(value) or value < minimum:
        raise TraceError(f"{source}:{line}: {what} {cell!r} must be at least {minimum:g}")
    return value


def _from_times(times: list[float], sizes: list[float] | None, name: str,
                credit: str | None) -> Trace:
    if not times:
        raise TraceError(f"{name}: no arrivals in the trace")
    raw = np.asarray(times, dtype=np.float64)
    order = np.argsort(raw, kind="stable")
    arrivals = raw[order] - raw[order[0]]
    size_array = None if sizes is None else np.asarray(sizes, dtype=np.float64)[order]
    return Trace(arrivals, size_array, name, credit, float(arrivals[-1]))


# ---------------------------------------------------------------------------------------------
# Synthetic profiles


def constant(rate: float, duration_s: float, *, seed: int,
             spacing: Spacing = "poisson") -> Trace:
    """Poisson (or evenly spaced) arrivals at a fixed rate: the steady-state baseline."""
    return _piecewise([0.0, duration_s], [rate], seed, spacing, f"constant {rate:g}/s")


def step(rate: float, to_rate: float, at_s: float, duration_s: float, *, seed: int,
         spacing: Spacing = "poisson") -> Trace:
    """`rate` until `at_s`, then `to_rate` to the end: how fast does a policy catch up?"""
    _check_inside(at_s, duration_s, "step time")
    return _piecewise([0.0, at_s, duration_s], [rate, to_rate], seed, spacing,
                      f"step {rate:g}->{to_rate:g}/s at {at_s:g}s")


def spike(rate: float, spike_rate: float, at_s: float, spike_duration_s: float,
          duration_s: float, *, seed: int, spacing: Spacing = "poisson") -> Trace:
    """A short burst at `spike_rate` on a `rate` baseline: scale-up speed and scale-in calm."""
    _check_inside(at_s, duration_s, "spike start")
    end = min(at_s + spike_duration_s, duration_s)
    if spike_duration_s <= 0:
        raise TraceError(f"spike duration must be positive, got {spike_duration_s}")
    return _piecewise([0.0, at_s, end, duration_s], [rate, spike_rate, rate], seed, spacing,
                      f"spike {rate:g}->{spike_rate:g}/s for {spike_duration_s:g}s")


def ramp(rate: float, to_rate: float, duration_s: float, *, seed: int,
         spacing: Spacing = "poisson") -> Trace:
    """A rate rising (or falling) linearly from `rate` to `to_rate` over the whole duration."""
    def rate_at(t: FloatArray) -> FloatArray:
        return rate + (to_rate - rate) * t / duration_s
    return _varying(rate_at, max(rate, to_rate), duration_s, seed, spacing,
                    f"ramp {rate:g}->{to_rate:g}/s")


def sine(rate: float, amplitude: float, period_s: float, duration_s: float, *, seed: int,
         spacing: Spacing = "poisson") -> Trace:
    """A diurnal-style rate ``rate + amplitude * sin(2 pi t / period)`` (clipped at 0)."""
    if period_s <= 0:
        raise TraceError(f"sine period must be positive, got {period_s}")

    def rate_at(t: FloatArray) -> FloatArray:
        return np.maximum(0.0, rate + amplitude * np.sin(2.0 * np.pi * t / period_s))
    return _varying(rate_at, rate + abs(amplitude), duration_s, seed, spacing,
                    f"sine {rate:g}+-{amplitude:g}/s period {period_s:g}s")


def bursty(rate: float, burst_rate: float, mean_calm_s: float, mean_burst_s: float,
           duration_s: float, *, seed: int) -> Trace:
    """A two-state Markov-modulated Poisson process (MMPP): calm at `rate`, bursts at
    `burst_rate`, each state lasting an exponential time with the given mean.

    The traffic that defeats averaging windows: bursts come at random, not on a schedule.
    """
    if mean_calm_s <= 0 or mean_burst_s <= 0:
        raise TraceError("mean calm and burst durations must be positive")
    _check_rate(rate)
    _check_rate(burst_rate)
    _check_duration(duration_s)
    rng = np.random.default_rng(seed)
    edges = [0.0]
    rates: list[float] = []
    bursting = False
    while edges[-1] < duration_s:
        mean = mean_burst_s if bursting else mean_calm_s
        edges.append(min(duration_s, edges[-1] + float(rng.exponential(mean))))
        rates.append(burst_rate if bursting else rate)
        bursting = not bursting
    trace = _piecewise(edges, rates, int(rng.integers(2**63)), "poisson", "")
    return Trace(trace.arrivals, None, f"bursty {rate:g}/{burst_rate:g}/s", None, duration_s)


def synthetic(name: str, rate: float, duration_s: float, *, seed: int,
              spacing: Spacing = "poisson") -> Trace:
    """A named profile at base `rate` with shapes that exercise autoscaling, for quick runs
    (``ebb sim --synthetic step``); call the generators directly for other shapes.

    - constant: `rate` throughout.
    - step: `rate`, then 6x `rate` from a third of the way in.
    - spike: `rate`, with 10x `rate` for a twentieth of the duration from 40 %.
    - ramp: `rate` rising to 8x `rate`.
    - sine: `rate` +- 80 %, two periods.
    - bursty: MMPP, calm `rate` and 6x `rate` bursts, means of a tenth and a fortieth of the
      duration (Poisson spacing only).
    """
    if name == "constant":
        return constant(rate, duration_s, seed=seed, spacing=spacing)
    if name == "step":
        return step(rate, 6 * rate, duration_s / 3, duration_s, seed=seed, spacing=spacing)
    if name == "spike":
        return spike(rate, 10 * rate, 0.4 * duration_s, duration_s / 20, duration_s,
                     seed=seed, spacing=spacing)
    if name == "ramp":
        return ramp(rate, 8 * rate, duration_s, seed=seed, spacing=spacing)
    if name == "sine":
        return sine(rate, 0.8 * rate, duration_s / 2, duration_s, seed=seed, spacing=spacing)
    if name == "bursty":
        return bursty(rate, 6 * rate, duration_s / 10, duration_s / 40, duration_s, seed=seed)
    raise TraceError(f"unknown synthetic profile {name!r}; known: {', '.join(SYNTHETIC)}")


def _piecewise(edges: list[float], rates: list[float], seed: int, spacing: Spacing,
               name: str) -> Trace:
    """Arrivals at a rate constant on each segment ``[edges[i], edges[i+1])``."""
    _check_duration(edges[-1])
    for value in rates:
        _check_rate(value)
    edge_array = np.asarray(edges, dtype=np.float64)
    rate_array = np.asarray(rates, dtype=np.float64)
    if spacing == "uniform":
        cumulative = np.concatenate([[0.0], np.cumsum(rate_array * np.diff(edge_array))])
        return _invert(edge_array, cumulative, name)
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate_array * np.diff(edge_array))
    starts = np.repeat(edge_array[:-1], counts)
    widths = np.repeat(np.diff(edge_array), counts)
    arrivals = np.sort(starts + rng.random(len(starts)) * widths)
    return Trace(arrivals, None, name, None, float(edges[-1]))


def _varying(rate_at: Callable[[FloatArray], FloatArray], peak: float, duration_s: float,
             seed: int, spacing: Spacing, name: str) -> Trace:
    """Arrivals of a Poisson process whose rate varies smoothly, by time rescaling: a unit-rate
    process on the integrated rate, mapped back through its inverse (linear on a fine grid).
    """
    _check_duration(duration_s)
    _check_rate(peak)
    grid = np.linspace(0.0, duration_s, _RATE_GRID_STEPS + 1)
    rates = rate_at(grid)
    if bool(np.any(rates < 0)):
        raise TraceError(f"{name}: the rate goes negative")
    cumulative = np.concatenate([[0.0], np.cumsum((rates[1:] + rates[:-1]) / 2 * np.diff(grid))])
    if spacing == "uniform":
        return _invert(grid, cumulative, name)
    rng = np.random.default_rng(seed)
    total = float(cumulative[-1])
    count = int(rng.poisson(total))
    unit = np.sort(rng.random(count) * total)
    arrivals = np.interp(unit, cumulative, grid)
    return Trace(arrivals, None, name, None, duration_s)


def _invert(grid: FloatArray, cumulative: FloatArray, name: str) -> Trace:
    """Evenly spaced arrivals: the k-th request when the integrated rate reaches k + 1/2."""
    count = math.floor(float(cumulative[-1]) + 0.5)
    targets = np.arange(count, dtype=np.float64) + 0.5
    arrivals = np.interp(targets, cumulative, grid)
    return Trace(np.minimum(arrivals, grid[-1]), None, name, None, float(grid[-1]))


def _check_rate(rate: float) -> None:
    if rate < 0 or not math.isfinite(rate):
        raise TraceError(f"rate must be finite and not negative, got {rate}")


def _check_duration(duration_s: float) -> None:
    if duration_s <= 0 or not math.isfinite(duration_s):
        raise TraceError(f"duration must be a positive number of seconds, got {duration_s}")


def _check_inside(at_s: float, duration_s: float, what: str) -> None:
    _check_duration(duration_s)
    if not 0 <= at_s <= duration_s:
        raise TraceError(f"{what} {at_s} s must lie within the {duration_s} s duration")


__all__ = [
    "AZURE_FUNCTIONS_CREDIT",
    "AZURE_LLM_CREDIT",
    "SYNTHETIC",
    "Trace",
    "TraceError",
    "bursty",
    "constant",
    "parse_azure_functions",
    "parse_azure_llm",
    "parse_timestamps",
    "ramp",
    "read_trace",
    "scaled",
    "sine",
    "spike",
    "step",
    "synthetic",
    "window",
]

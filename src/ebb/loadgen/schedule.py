"""When each request is sent: a sorted array of arrival offsets (seconds from the start).

Arrival times come from :mod:`ebb.traces` (synthetic profiles and trace files alike); this module
only maps the command's profile knobs onto it, fills in their defaults, and applies the run's
bounds (duration, request count)::

    schedule = build_schedule(spec)                       # from the command's flags
    schedule = from_trace(ebb.traces.step(...), 60.0, 100_000)   # from any Trace
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from ebb import traces

MAX_DURATION_S = 86_400.0
MAX_REQUESTS = 10_000_000
DEFAULT_DURATION_S = 10.0
PROFILES: Final = ("constant", "step", "spike", "ramp", "sine", "trace")


class ScheduleError(ValueError):
    """A profile's knobs do not describe a schedule; the message names the value."""


@dataclass(frozen=True)
class Schedule:
    arrivals: np.ndarray
    """Sorted offsets in seconds, all in ``[0, duration_s)``."""
    duration_s: float
    description: str
    credit: str | None = None
    """Attribution of the trace the arrivals come from, to show with any result."""

    def __len__(self) -> int:
        return len(self.arrivals)

    @property
    def offered_rate(self) -> float:
        return len(self.arrivals) / self.duration_s if self.duration_s > 0 else 0.0


def bounded(arrivals: np.ndarray, duration_s: float, max_requests: int,
            description: str, credit: str | None = None) -> Schedule:
    """The arrivals within ``[0, duration_s)``, at most ``max_requests`` of them (the duration
    then ends just after the last one kept, so the offered rate stays true)."""
    if not 0 < duration_s <= MAX_DURATION_S:
        raise ScheduleError(f"duration {duration_s} s must be above 0 and at most "
                            f"{MAX_DURATION_S:.0f} s")
    if not 1 <= max_requests <= MAX_REQUESTS:
        raise ScheduleError(f"max requests {max_requests} must be between 1 and {MAX_REQUESTS}")
    times = np.sort(np.asarray(arrivals, dtype=np.float64))
    times = times[(times >= 0) & (times < duration_s)]
    if len(times) > max_requests:
        times = times[:max_requests]
        duration_s = float(np.nextafter(times[-1], np.inf))
    return Schedule(times, duration_s, description, credit)


def from_trace(trace: traces.Trace, duration_s: float | None, max_requests: int) -> Schedule:
    """A trace's arrivals, for ``duration_s`` (default: the trace's own span)."""
    span = trace.duration_s if duration_s is None else duration_s
    if duration_s is None and len(trace):
        span = max(span, float(np.nextafter(trace.arrivals[-1], np.inf)))
    return bounded(trace.arrivals, span, max_requests, trace.name, trace.credit)


@dataclass(frozen=True)
class ProfileSpec:
    """A profile and its knobs as the user gave them; None means the profile's default."""

    kind: str
    rate: float
    """Constant rate; the base rate of step and spike, the start of a ramp, a sine's mean."""
    duration_s: float | None
    arrivals: str
    """``poisson`` or ``uniform`` spacing at the profile's rate."""
    step_to: float | None
    step_at: float | None
    spike_rate: float | None
    spike_at: float | None
    spike_duration: float | None
    ramp_to: float | None
    sine_amplitude: float | None
    sine_period: float | None
    trace: Path | None
    speedup: float
    rate_scale: float
    max_requests: int
    seed: int

    def knobs(self) -> dict[str, object]:
        """The profile-specific knobs that were given (not None, not the neutral 1.0)."""
        given: dict[str, object] = {}
        for name in ("step_to", "step_at", "spike_rate", "spike_at", "spike_duration",
                     "ramp_to", "sine_amplitude", "sine_period", "trace"):
            if getattr(self, name) is not None:
                given[name] = getattr(self, name)
        for name in ("speedup", "rate_scale"):
            if getattr(self, name) != 1.0:
                given[name] = getattr(self, name)
        return given


_KNOBS: Final[dict[str, frozenset[str]]] = {
    "constant": frozenset(),
    "step": frozenset({"step_to", "step_at"}),
    "spike": frozenset({"spike_rate", "spike_at", "spike_duration"}),
    "ramp": frozenset({"ramp_to"}),
    "sine": frozenset({"sine_amplitude", "sine_period"}),
    "trace": frozenset({"trace", "speedup", "rate_scale"}),
}
_MAX_GENERATED: Final = 2 * MAX_REQUESTS
"""Arrivals a profile may generate before the request cap applies (memory bound)."""


def build_schedule(spec: ProfileSpec) -> Schedule:
    """The schedule a profile describes; a knob of another profile, a missing required knob or
    a schedule too large to generate is a :class:`ScheduleError`."""
    if spec.kind not in _KNOBS:
        raise ScheduleError(f"unknown profile {spec.kind!r}; choose from {', '.join(PROFILES)}")
    stray = sorted(set(spec.knobs()) - _KNOBS[spec.kind])
    if stray:
        flags = ", ".join("--" + name.replace("_", "-") for name in stray)
        raise ScheduleError(f"{flags} do(es) not apply to --profile {spec.kind}")
    try:
        if spec.kind == "trace":
            return _trace_schedule(spec)
        return _synthetic_schedule(spec)
    except traces.TraceError as error:
        raise ScheduleError(str(error)) from None


def _require(value: float | None, flag: str, kind: str) -> float:
    if value is None:
        raise ScheduleError(f"--profile {kind} needs {flag}")
    return value


def _synthetic_schedule(spec: ProfileSpec) -> Schedule:
    duration = DEFAULT_DURATION_S if spec.duration_s is None else spec.duration_s
    if not 0 < duration <= MAX_DURATION_S:
        raise ScheduleError(f"duration {duration} s must be above 0 and at most "
                            f"{MAX_DURATION_S:.0f} s")
    kind, rate, seed = spec.kind, spec.rate, spec.seed
    spacing: traces.Spacing = "uniform" if spec.arrivals == "uniform" else "poisson"
    peak = rate
    if kind == "step":
        peak = max(rate, _require(spec.step_to, "--step-to", kind))
    elif kind == "spike":
        peak = max(rate, _require(spec.spike_rate, "--spike-rate", kind))
    elif kind == "ramp":
        peak = max(rate, _require(spec.ramp_to, "--ramp-to", kind))
    elif kind == "sine":
        amplitude = rate / 2 if spec.sine_amplitude is None else spec.sine_amplitude
        peak = rate + abs(amplitude)
    if peak * duration > _MAX_GENERATED:
        raise ScheduleError(f"{peak:g}/s for {duration:g} s is about {peak * duration:.0f} "
                            f"requests, over the {_MAX_GENERATED} this can generate; lower "
                            "--rate or --duration")
    if kind == "constant":
        trace = traces.constant(rate, duration, seed=seed, spacing=spacing)
    elif kind == "step":
        at = duration / 2 if spec.step_at is None else spec.step_at
        trace = traces.step(rate, _require(spec.step_to, "--step-to", kind), at, duration,
                            seed=seed, spacing=spacing)
    elif kind == "spike":
        at = duration / 3 if spec.spike_at is None else spec.spike_at
        length = duration / 10 if spec.spike_duration is None else spec.spike_duration
        trace = traces.spike(rate, _require(spec.spike_rate, "--spike-rate", kind), at, length,
                             duration, seed=seed, spacing=spacing)
    elif kind == "ramp":
        trace = traces.ramp(rate, _require(spec.ramp_to, "--ramp-to", kind), duration,
                            seed=seed, spacing=spacing)
    else:
        period = duration if spec.sine_period is None else spec.sine_period
        trace = traces.sine(rate, peak - rate, period, duration, seed=seed, spacing=spacing)
    return from_trace(trace, duration, spec.max_requests)


def _trace_schedule(spec: ProfileSpec) -> Schedule:
    path = spec.trace
    if path is None:
        raise ScheduleError("--profile trace needs --trace FILE")
    trace = traces.read_trace(path, speedup=spec.speedup, seed=spec.seed)
    if len(trace) * spec.rate_scale > _MAX_GENERATED:
        raise ScheduleError(f"{len(trace)} arrivals x{spec.rate_scale:g} is over the "
                            f"{_MAX_GENERATED} this can generate; lower --rate-scale")
    trace = traces.scaled(trace, rate_scale=spec.rate_scale, seed=spec.seed)
    if spec.duration_s is not None and not 0 < spec.duration_s <= MAX_DURATION_S:
        raise ScheduleError(f"duration {spec.duration_s} s must be above 0 and at most "
                            f"{MAX_DURATION_S:.0f} s")
    return from_trace(trace, spec.duration_s, spec.max_requests)

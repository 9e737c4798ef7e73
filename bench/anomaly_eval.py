"""How well the anomaly detector and the drift monitor do on traces with injected anomalies.

    .venv/bin/python bench/anomaly_eval.py                  # markdown tables on stdout, ~75 s
    .venv/bin/python bench/anomaly_eval.py --seeds 5 --per-second-days 0 --no-plot   # quick

Traces: the four key signals of an inference service over several days, one step per minute
(a day is compressed to 1440 steps: 1 step = 1 min; the detector runs with its production
defaults on real timestamps, `now = step x 60 s`, so every time constant means what it says).
Normal behaviour: a daily shape (traffic peaks at 16:00 at 2.7x its 04:00 trough, a level that
drifts by about 5 % from one day to the next), Poisson arrivals, latency and queue wait that
grow with load, binomial errors, and heavy-tailed outliers (1 % of minutes with a latency or
queue-wait spike, 0.3 % with an error blip) that are normal and must not be flagged.

Injected (days 2 onward, two of each per trace, each into its own signal):
- latency regression: latency x1.3-2.0 for 30-180 min
- latency creep: latency growing to x1.5-2.0 over 3-6 h, then 1 h at that level
- traffic drop: arrivals x0.3-0.7 for 30-180 min
- error burst: error ratio 2-10 % for 5-30 min
- capacity loss: queue wait +50-200 ms for 15-60 min

Scoring, per signal: an alarm is a run of `active`. It is a true alarm if it overlaps an injected
window of that signal (extended by 10 min for the smoothing and hysteresis lag), else a false
one. Recall: injected anomalies overlapped by an alarm. Precision: true alarms / all alarms of
the signal. Delay: alarm onset - anomaly start. Active for: the share of a detected anomaly's
window during which the signal was active. False alarms per day: on the same traces without
injections (day 1 on the EWMA fallback, after the 10 min warm-up; days 2+ on the seasonal
baseline). Variants (no day offset, 3 min median, EWMA only) show what each part is worth.
A second table repeats the defaults at one sample per second, the server's rate.

Drift: a stream of requests (16-feature input, a scalar output, a 256-value wide input) whose
inputs shift after 5000 requests; PSI before (the largest seen on the clean stream) and after,
and requests until PSI reaches 0.1 and 0.25.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ebb.anomaly import (
    DEFAULT_DRIFT_CONFIG,
    DEFAULT_SIGNAL_CONFIGS,
    MAJOR_PSI,
    MINOR_PSI,
    SIGNALS,
    AnomalyDetector,
    DetectorConfig,
    DriftMonitor,
)

DAY = 86_400.0
STEP = 60.0
GRACE = 600.0
WARMUP = 600.0


@dataclass(frozen=True)
class Kind:
    name: str
    signal: str
    duration_min: tuple[float, float]
    magnitude: tuple[float, float]
    ramp: bool = False
    """The change grows linearly over the window but its last hour (a slow degradation)."""


KINDS = (
    Kind("latency regression", "latency", (30, 180), (1.3, 2.0)),
    Kind("latency creep", "latency", (240, 420), (1.5, 2.0), ramp=True),
    Kind("traffic drop", "arrival_rate", (30, 180), (0.3, 0.7)),
    Kind("error burst", "error_ratio", (5, 30), (0.02, 0.10)),
    Kind("capacity loss", "queue_wait", (15, 60), (0.05, 0.20)),
)


@dataclass(frozen=True)
class Injected:
    kind: Kind
    start: float
    end: float
    magnitude: float


@dataclass
class Trace:
    t: np.ndarray
    values: dict[str, np.ndarray]
    injected: list[Injected]


def make_trace(seed: int, days: int, inject: bool, step_s: float = STEP) -> Trace:
    """Signals aggregated over `step_s`; shorter steps are noisier (fewer requests each)."""
    rng = np.random.default_rng(seed)
    steps = int(days * DAY / step_s)
    t = np.arange(steps) * step_s
    noise = min(math.sqrt(STEP / step_s), 5.0)
    hour = (t % DAY) / 3600
    noons = (np.arange(-1, days + 1) + 0.5) * DAY
    day_level = np.interp(t, noons, rng.lognormal(0, 0.05, size=days + 2))
    shape = (1 + 0.45 * np.sin(2 * np.pi * (hour - 10) / 24)) * day_level
    load = shape / shape.max()

    injected: list[Injected] = []
    if inject:
        for kind in KINDS:
            injected += _place(rng, kind, days, [a for a in injected if a.kind.signal ==
                                                 kind.signal])

    rate = 100 * shape
    for a in (a for a in injected if a.kind.signal == "arrival_rate"):
        rate[(t >= a.start) & (t < a.end)] *= a.magnitude
    arrivals = rng.poisson(rate * step_s * rng.lognormal(0, 0.03, size=steps))
    arrival_rate = arrivals / step_s

    latency = (0.080 + 0.030 * load**2) * rng.lognormal(0, 0.06 * noise, size=steps)
    spikes = rng.random(steps) < 0.01
    latency[spikes] *= rng.uniform(1.3, 2.5, size=spikes.sum())
    for a in (a for a in injected if a.kind.signal == "latency"):
        window = (t >= a.start) & (t < a.end)
        if a.kind.ramp:
            grown = np.clip((t[window] - a.start) / (a.end - a.start - 3600), 0, 1)
            latency[window] *= 1 + (a.magnitude - 1) * grown
        else:
            latency[window] *= a.magnitude

    queue_wait = (0.002 + 0.010 * load**3) * rng.lognormal(0, 0.3 * noise, size=steps)
    bursts = rng.random(steps) < 0.01
    queue_wait[bursts] += rng.uniform(0.01, 0.05, size=bursts.sum())
    for a in (a for a in injected if a.kind.signal == "queue_wait"):
        window = (t >= a.start) & (t < a.end)
        queue_wait[window] += a.magnitude * rng.lognormal(0, 0.2, size=window.sum())

    p_error = np.full(steps, 0.001)
    blips = rng.random(steps) < 0.003
    p_error[blips] = rng.uniform(0.005, 0.02, size=blips.sum())
    for a in (a for a in injected if a.kind.signal == "error_ratio"):
        p_error[(t >= a.start) & (t < a.end)] = a.magnitude
    answered = np.maximum(arrivals, 1)
    error_ratio = rng.binomial(answered, p_error) / answered

    values = {"arrival_rate": arrival_rate, "latency": latency, "queue_wait": queue_wait,
              "error_ratio": error_ratio}
    return Trace(t, values, injected)


def _place(rng: np.random.Generator, kind: Kind, days: int, taken: list[Injected],
           count: int = 2) -> list[Injected]:
    """`count` windows from day 2 on, at least 2 h from each other and from `taken`."""
    placed: list[Injected] = []
    while len(placed) < count:
        duration = rng.uniform(*kind.duration_min) * 60
        start = float(np.floor(rng.uniform(DAY, days * DAY - duration)))
        end = start + duration
        if all(end + 7200 < p.start or start > p.end + 7200 for p in placed + taken):
            placed.append(Injected(kind, start, end, float(rng.uniform(*kind.magnitude))))
    return sorted(placed, key=lambda a: a.start)


@dataclass
class Run:
    score: np.ndarray
    active: np.ndarray
    baseline: np.ndarray
    spread: np.ndarray


def run(trace: Trace, configs: Mapping[str, DetectorConfig]) -> dict[str, Run]:
    found = {}
    for signal in SIGNALS:
        detector = AnomalyDetector(configs[signal])
        result = Run(*(np.empty(len(trace.t)) for _ in range(4)))
        for i, (now, value) in enumerate(zip(trace.t.tolist(), trace.values[signal].tolist(),
                                             strict=True)):
            reading = detector.update(now, value)
            result.score[i] = reading.score
            result.active[i] = reading.active
            result.baseline[i] = reading.baseline
            result.spread[i] = reading.spread
        result.active = result.active.astype(bool)
        found[signal] = result
    return found


def episodes(t: np.ndarray, active: np.ndarray) -> list[tuple[float, float]]:
    """(onset, last active time) of each run of active readings."""
    edges = np.diff(np.concatenate(([0], active.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return [(float(t[s]), float(t[e])) for s, e in zip(starts, ends, strict=True)]


@dataclass
class Tally:
    injected: int = 0
    detected: int = 0
    delays_min: list[float] = dataclasses.field(default_factory=list)
    coverage: list[float] = dataclasses.field(default_factory=list)
    """Per detected anomaly, the fraction of its window during which the signal was active."""


def tally(traces: list[Trace], runs: list[dict[str, Run]]
          ) -> tuple[dict[str, Tally], dict[str, tuple[int, int]]]:
    """Per kind: recall, delays, coverage; per signal: (true alarms, false alarms)."""
    kinds = {kind.name: Tally() for kind in KINDS}
    alarms_by_signal = dict.fromkeys(SIGNALS, (0, 0))
    for trace, result in zip(traces, runs, strict=True):
        for signal in SIGNALS:
            mine = [a for a in trace.injected if a.kind.signal == signal]
            alarms = episodes(trace.t, result[signal].active)
            true = sum(1 for onset, last in alarms
                       if any(onset <= a.end + GRACE and last >= a.start for a in mine))
            old_true, old_false = alarms_by_signal[signal]
            alarms_by_signal[signal] = (old_true + true, old_false + len(alarms) - true)
            for a in mine:
                row = kinds[a.kind.name]
                row.injected += 1
                hits = [onset for onset, last in alarms
                        if onset <= a.end + GRACE and last >= a.start]
                if hits:
                    row.detected += 1
                    row.delays_min.append(max(0.0, min(hits) - a.start) / 60)
                    window = (trace.t >= a.start) & (trace.t < a.end)
                    row.coverage.append(float(result[signal].active[window].mean()))
    return kinds, alarms_by_signal


def false_alarms_per_day(traces: list[Trace], runs: list[dict[str, Run]],
                         first_day: bool) -> dict[str, float]:
    found = {}
    for signal in SIGNALS:
        count = 0
        days = 0.0
        for trace, result in zip(traces, runs, strict=True):
            onsets = [onset for onset, _ in episodes(trace.t, result[signal].active)]
            if first_day:
                count += sum(1 for onset in onsets if onset < DAY)
                days += (DAY - WARMUP) / DAY
            else:
                count += sum(1 for onset in onsets if onset >= DAY)
                days += (trace.t[-1] + trace.t[1]) / DAY - 1
        found[signal] = count / days
    return found


def ewma_only(config: DetectorConfig) -> DetectorConfig:
    """The same detector with a season too long to ever complete a slot: EWMA bands only."""
    return dataclasses.replace(config, period_s=1e9, slot_s=5e8)


def variants() -> dict[str, Mapping[str, DetectorConfig]]:
    def varied(change: Callable[[DetectorConfig], DetectorConfig]
               ) -> Mapping[str, DetectorConfig]:
        return {s: change(c) for s, c in DEFAULT_SIGNAL_CONFIGS.items()}

    return {
        "seasonal (default)": DEFAULT_SIGNAL_CONFIGS,
        "seasonal, no day offset": varied(
            lambda c: dataclasses.replace(c, offset_halflife_s=1e15)),
        "seasonal, 3 min median": varied(
            lambda c: dataclasses.replace(c, smoothing_window_s=180.0)),
        "EWMA only": varied(ewma_only),
    }


def detector_table(seeds: int, days: int, step_s: float,
                   compared: Mapping[str, Mapping[str, DetectorConfig]]
                   ) -> tuple[str, Trace, dict[str, Run]]:
    dirty = [make_trace(seed, days, inject=True, step_s=step_s) for seed in range(seeds)]
    clean = [make_trace(seed, days, inject=False, step_s=step_s) for seed in range(seeds)]
    lines = ["| detector | anomaly | signal | injected | recall | precision (signal) | delay "
             "median (min) | delay p90 (min) | active for (of window) | false alarms/day, "
             "day 1 | false alarms/day, days 2+ |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    example: tuple[Trace, dict[str, Run]] | None = None
    for label, configs in compared.items():
        started = time.perf_counter()
        dirty_runs = [run(trace, configs) for trace in dirty]
        clean_runs = [run(trace, configs) for trace in clean]
        elapsed = time.perf_counter() - started
        if example is None:
            example = (dirty[0], dirty_runs[0])
        rows, alarms_by_signal = tally(dirty, dirty_runs)
        first = false_alarms_per_day(clean, clean_runs, first_day=True)
        later = false_alarms_per_day(clean, clean_runs, first_day=False)
        for kind in KINDS:
            row = rows[kind.name]
            true, false = alarms_by_signal[kind.signal]
            precision = true / (true + false) if true + false else math.nan
            delays = np.array(row.delays_min) if row.delays_min else np.array([math.nan])
            coverage = np.mean(row.coverage) if row.coverage else math.nan
            lines.append(
                f"| {label} | {kind.name} | {kind.signal} | {row.injected} | "
                f"{row.detected / row.injected:.2f} | {precision:.2f} | "
                f"{np.median(delays):.1f} | {np.percentile(delays, 90):.1f} | "
                f"{coverage:.0%} | {first[kind.signal]:.2f} | {later[kind.signal]:.2f} |")
        updates = 2 * seeds * len(SIGNALS) * len(dirty[0].t)
        lines.append(f"| {label} | *all signals* | | | | | | | | {sum(first.values()):.2f} | "
                     f"{sum(later.values()):.2f} |")
        print(f"<!-- {label}: {updates} updates in {elapsed:.1f} s, "
              f"{elapsed / updates * 1e6:.1f} us each -->")
    assert example is not None
    return "\n".join(lines), *example


# --- drift -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shift:
    name: str
    apply: Callable[[np.ndarray], np.ndarray]


SHIFTS = (
    Shift("none", lambda x: x),
    Shift("all 16 features +0.1 sd", lambda x: x + 0.1),
    Shift("all 16 features +0.25 sd", lambda x: x + 0.25),
    Shift("all 16 features +0.5 sd", lambda x: x + 0.5),
    Shift("one feature of 16 +0.5 sd", lambda x: x + 0.5 * (np.arange(x.shape[1]) == 3)),
    Shift("one feature of 16 +1 sd", lambda x: x + 1.0 * (np.arange(x.shape[1]) == 3)),
    Shift("one feature of 16 spread x1.5", lambda x: x * (1 + 0.5 * (np.arange(x.shape[1]) == 3))),
)
WEIGHTS = np.linspace(-0.5, 1.0, 16)


def drift_stream(shift: Shift, seed: int, before: int, after: int
                 ) -> tuple[dict[str, np.ndarray], DriftMonitor, float]:
    """PSI per tensor after each request; the shift starts at request `before`."""
    rng = np.random.default_rng(seed)
    monitor = DriftMonitor(DEFAULT_DRIFT_CONFIG)
    history: dict[str, list[float]] = {"input:features": [], "input:wide": [], "output:score": []}
    spent = 0.0
    for i in range(before + after):
        x = rng.normal(size=(1, 16))
        wide = rng.normal(size=(1, 256)) + rng.normal(0, 0.05)
        if i >= before:
            x = shift.apply(x)
            wide = shift.apply(wide)
        score = 1 / (1 + np.exp(-(x @ WEIGHTS)))
        started = time.perf_counter()
        monitor.observe("input:features", x)
        monitor.observe("input:wide", wide)
        monitor.observe("output:score", score)
        spent += time.perf_counter() - started
        if i % 50 == 0:
            found = monitor.psi()
            for name in history:
                history[name].append(found.get(name, math.nan))
    return ({k: np.array(v) for k, v in history.items()}, monitor,
            spent / (3 * (before + after)))


def drift_table(seeds: int) -> tuple[str, dict[str, np.ndarray], float, float]:
    before, after, every = 5000, 5000, 50
    lines = ["| shift | tensor | PSI before (max) | PSI after | requests to 0.1 | "
             "requests to 0.25 |", "|---|---|---:|---:|---:|---:|"]
    example: dict[str, np.ndarray] = {}
    costs = []
    for shift in SHIFTS:
        per_tensor: dict[str, list[tuple[float, float, float, float]]] = {}
        for seed in range(seeds):
            history, _, cost = drift_stream(shift, seed, before, after)
            costs.append(cost)
            if shift.name == "all 16 features +0.25 sd" and seed == 0:
                example = history
            for name, series in history.items():
                split = before // every
                clean = np.nan_to_num(series[:split], nan=0.0)
                shifted = series[split:]
                delays = []
                for threshold in (MINOR_PSI, MAJOR_PSI):
                    over = np.flatnonzero(shifted >= threshold)
                    delays.append(float(over[0] * every) if over.size else math.inf)
                per_tensor.setdefault(name, []).append(
                    (float(clean.max()), float(shifted[-1]), delays[0], delays[1]))
        for name, rows in per_tensor.items():
            data = np.array(rows)
            lines.append(f"| {shift.name} | {name} | {data[:, 0].max():.3f} | "
                         f"{np.median(data[:, 1]):.3f} | {_requests(data[:, 2])} | "
                         f"{_requests(data[:, 3])} |")
    psi_cost = _psi_cost()
    return "\n".join(lines), example, float(np.median(costs)), psi_cost


def _requests(values: np.ndarray) -> str:
    if np.isinf(values).all():
        return "never"
    missed = int(np.isinf(values).sum())
    text = f"{np.median(values[np.isfinite(values)]):.0f}"
    return text + (f" ({missed}/{len(values)} never)" if missed else "")


def _psi_cost() -> float:
    rng = np.random.default_rng(0)
    monitor = DriftMonitor(DEFAULT_DRIFT_CONFIG)
    for _ in range(2000):
        monitor.observe("wide64", rng.normal(size=(1, 64)))
    started = time.perf_counter()
    for _ in range(20):
        monitor.psi()
    return (time.perf_counter() - started) / 20


# --- plot --------------------------------------------------------------------------------------

def plot(trace: Trace, result: dict[str, Run], drift: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = trace.t / 3600
    figure = plt.figure(figsize=(16, 15))
    grid = figure.add_gridspec(len(SIGNALS) + 1, 2, width_ratios=[3, 1])
    first = None
    for row, signal in enumerate(SIGNALS):
        r = result[signal]
        config = DEFAULT_SIGNAL_CONFIGS[signal]
        ax = figure.add_subplot(grid[row, 0], sharex=first)
        first = first or ax
        score_ax = figure.add_subplot(grid[row, 1], sharex=first)
        ax.plot(hours, trace.values[signal], lw=0.5, color="0.4", label=signal)
        ax.plot(hours, r.baseline, color="tab:blue", lw=1, label="baseline")
        ax.fill_between(hours, r.baseline - config.on_score * r.spread,
                        r.baseline + config.on_score * r.spread, color="tab:blue", alpha=0.15,
                        label=f"baseline +- {config.on_score:g} spreads")
        for a in trace.injected:
            if a.kind.signal == signal:
                for axis in (ax, score_ax):
                    axis.axvspan(a.start / 3600, a.end / 3600, color="tab:red", alpha=0.2)
        ax.set_ylim(0, np.nanpercentile(trace.values[signal], 99.8) * 1.5)
        ax.set_ylabel(signal)
        ax.legend(loc="upper left", fontsize=7)
        score_ax.plot(hours, r.score, lw=0.6, color="tab:purple", label="score")
        score_ax.fill_between(hours, 0, r.active * max(r.score.max(), 1.0), color="tab:orange",
                              alpha=0.4, step="post", label="active")
        score_ax.axhline(config.on_score, color="k", lw=0.5, ls="--")
        score_ax.set_ylabel("score")
        score_ax.legend(loc="upper left", fontsize=7)
    for ax in figure.axes[-2:]:
        ax.set_xlabel("hour (1 step = 1 min; red: injected anomaly)")
    drift_ax = figure.add_subplot(grid[-1, :])
    for name, series in drift.items():
        drift_ax.plot(np.arange(len(series)) * 50, series, label=name)
    drift_ax.axvline(5000, color="tab:red", label="shift")
    drift_ax.axhline(MINOR_PSI, color="k", lw=0.5, ls=":")
    drift_ax.axhline(MAJOR_PSI, color="k", lw=0.5, ls="--")
    drift_ax.set_yscale("symlog", linthresh=0.1)
    drift_ax.set_ylim(bottom=0)
    drift_ax.set_xlabel("request (all 16 input features +0.25 sd from request 5000)")
    drift_ax.set_ylabel("PSI (0.1 minor, 0.25 major)")
    drift_ax.legend(fontsize=7, loc="upper left")
    figure.suptitle("Ebb anomaly detector, seed 0: signals with the baseline band (left), score "
                    "and active (right); drift PSI per tensor (bottom)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--per-second-days", type=int, default=3,
                        help="days of the 1 Hz check (0: skip it)")
    parser.add_argument("--drift-seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/results/anomaly_eval.png"))
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    table, trace, result = detector_table(args.seeds, args.days, STEP, variants())
    print(f"\n## Anomaly detector: {args.seeds} seeds x {args.days} days, one step per minute\n")
    print(table)
    if args.per_second_days:
        defaults = {"seasonal (default)": DEFAULT_SIGNAL_CONFIGS}
        fine, _, _ = detector_table(1, args.per_second_days, 1.0, defaults)
        print(f"\n## The same at one sample per second (the server's rate): 1 seed x "
              f"{args.per_second_days} days, noisier samples\n")
        print(fine)
    drift, example, observe_s, psi_s = drift_table(args.drift_seeds)
    print(f"\n## Drift (PSI, reference and window 1000 rows, {args.drift_seeds} seeds; "
          f"shift from request 5000)\n")
    print(drift)
    print(f"\nobserve(): {observe_s * 1e6:.1f} us per call (one request, median); "
          f"psi() over a 64-feature tensor: {psi_s * 1e3:.2f} ms")
    if not args.no_plot:
        plot(trace, result, example, args.out)
        print(f"\nplot: {args.out}")
    print(f"\n(total {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()

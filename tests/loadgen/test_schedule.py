"""Profiles -> arrival schedules: shapes, defaults, bounds and the errors a user would hit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ebb.loadgen.schedule import ProfileSpec, ScheduleError, bounded, build_schedule


def spec(kind: str = "constant", **knobs: object) -> ProfileSpec:
    base = ProfileSpec(kind=kind, rate=100.0, duration_s=10.0, arrivals="uniform",
                       step_to=None, step_at=None, spike_rate=None, spike_at=None,
                       spike_duration=None, ramp_to=None, sine_amplitude=None,
                       sine_period=None, trace=None, speedup=1.0, rate_scale=1.0,
                       max_requests=1_000_000, seed=0)
    return dataclasses.replace(base, **knobs)  # type: ignore[arg-type]


def per_second(arrivals: np.ndarray, seconds: int) -> list[int]:
    return [int(n) for n in np.bincount(np.floor(arrivals).astype(int), minlength=seconds)]


def test_constant_profile_sends_rate_times_duration_inside_the_window() -> None:
    schedule = build_schedule(spec())
    assert len(schedule) == 1000
    assert schedule.arrivals[0] >= 0 and schedule.arrivals[-1] < 10
    assert np.all(np.diff(schedule.arrivals) >= 0)
    assert schedule.offered_rate == pytest.approx(100)


def test_poisson_arrivals_are_seeded() -> None:
    first = build_schedule(spec(arrivals="poisson", seed=3)).arrivals
    assert np.array_equal(first, build_schedule(spec(arrivals="poisson", seed=3)).arrivals)
    assert not np.array_equal(first, build_schedule(spec(arrivals="poisson", seed=4)).arrivals)
    assert 900 < len(first) < 1100


def test_step_defaults_to_the_middle_of_the_run() -> None:
    counts = per_second(build_schedule(spec("step", step_to=300.0)).arrivals, 10)
    assert counts[:5] == [100] * 5 and counts[5:] == [300] * 5
    counts = per_second(build_schedule(spec("step", step_to=300.0, step_at=2.0)).arrivals, 10)
    assert counts[1] == 100 and counts[2] == 300


def test_spike_ramp_and_sine_shapes() -> None:
    spike = per_second(build_schedule(spec("spike", spike_rate=1000.0, spike_at=4.0,
                                           spike_duration=1.0)).arrivals, 10)
    assert spike[3] == 100 and spike[4] == 1000 and spike[5] == 100
    ramp = per_second(build_schedule(spec("ramp", ramp_to=300.0)).arrivals, 10)
    assert ramp[0] < 120 and ramp[-1] > 280
    sine = per_second(build_schedule(spec("sine", sine_period=10.0)).arrivals, 10)
    assert max(sine[:5]) > 140 and min(sine[5:]) < 60  # rate +- 50 % by default


def _azure_trace(path: Path, seconds: int) -> Path:
    """An Azure LLM 2023 style CSV: one arrival every 0.1 s for ``seconds``."""
    rows = [f"2023-11-16 18:{10 + i // 600:02d}:{(i // 10) % 60:02d}.{i % 10}000000,374,44"
            for i in range(seconds * 10)]
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n" + "\n".join(rows) + "\n")
    return path


def test_trace_replay_with_time_compression_and_rate_scale(tmp_path: Path) -> None:
    azure = _azure_trace(tmp_path / "azure.csv", seconds=120)
    full = build_schedule(spec("trace", trace=azure, duration_s=None, speedup=10.0))
    assert len(full) == 1200
    assert full.duration_s == pytest.approx(12.0, abs=0.02)  # 120 s of trace in 12 s
    assert full.offered_rate == pytest.approx(100, rel=0.01)
    assert full.credit is not None and "Splitwise" in full.credit
    capped = build_schedule(spec("trace", trace=azure, duration_s=5.0, speedup=10.0,
                                 rate_scale=2.0))
    assert capped.duration_s == 5.0 and capped.arrivals[-1] < 5.0
    assert len(capped) == 1000


def test_timestamp_file_replay(tmp_path: Path) -> None:
    path = tmp_path / "arrivals.txt"
    path.write_text("100.0\n100.5\n101.0\n103.0\n")
    schedule = build_schedule(spec("trace", trace=path, duration_s=None))
    assert schedule.arrivals.tolist() == [0.0, 0.5, 1.0, 3.0]


def test_request_cap_shortens_the_run_to_what_is_sent() -> None:
    schedule = build_schedule(spec(max_requests=250))
    assert len(schedule) == 250
    assert schedule.duration_s == pytest.approx(2.5, abs=0.02)
    window = bounded(np.array([-1.0, 0.0, 1.0, 2.0, 9.0]), 5.0, 10, "hand-made")
    assert window.arrivals.tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize(("profile", "message"), [
    (spec("step"), "needs --step-to"),
    (spec("constant", step_to=5.0), "--step-to do"),
    (spec("trace", duration_s=None), "needs --trace"),
    (spec("constant", duration_s=0.0), "duration"),
    (spec("constant", rate=1e9, duration_s=1000.0), "lower --rate"),
    (spec("step", step_to=5.0, step_at=20.0), "within"),
    (spec("trace", trace=Path("/nonexistent/trace.txt")), "cannot read"),
])
def test_bad_profiles_are_explained(profile: ProfileSpec, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        build_schedule(profile)

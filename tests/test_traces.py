"""Trace readers and synthetic generators: counts, rates, scaling, and errors that say where."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ebb import traces
from ebb.traces import TraceError

AZURE = Path(__file__).resolve().parents[2] / "shared" / "traces" / "azure_llm_2023_conv.csv"


@pytest.mark.skipif(not AZURE.exists(), reason="shared Azure trace not present")
def test_azure_llm_trace_has_every_row_and_its_credit() -> None:
    lines = AZURE.read_text().splitlines()
    assert len(lines) == 1 + 19_366  # header + one row per request (README: 19,366 requests)
    trace = traces.read_trace(AZURE)
    assert len(trace) == 19_366
    assert trace.arrivals[0] == 0.0
    assert np.all(np.diff(trace.arrivals) >= 0)
    assert 3400 < trace.duration_s < 3600
    assert 5.0 < trace.mean_rate < 6.0
    assert trace.sizes is not None
    assert trace.sizes[0] == 374 + 44
    assert trace.credit is not None and "Splitwise" in trace.credit


def test_azure_llm_format_detected_by_header(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                    "2023-11-16 18:15:46.5000000,10,5\n2023-11-16 18:15:48.0000000,1,1\n")
    trace = traces.read_trace(path, speedup=2)
    assert trace.arrivals.tolist() == pytest.approx([0.0, 0.75])
    assert trace.sizes is not None and trace.sizes.tolist() == [15.0, 2.0]
    assert trace.credit == traces.AZURE_LLM_CREDIT


def test_timestamps_with_header_sizes_and_unsorted_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("time,size\n105.0,3\n100.5,1\n\n# comment\n101,2\n")
    trace = traces.read_trace(path)
    assert trace.arrivals.tolist() == [0.0, 0.5, 4.5]
    assert trace.sizes is not None and trace.sizes.tolist() == [1.0, 2.0, 3.0]
    assert trace.credit is None


def test_timestamps_without_sizes(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("0\n0.25\n1\n")
    trace = traces.read_trace(path)
    assert trace.sizes is None
    assert trace.arrivals.tolist() == [0.0, 0.25, 1.0]


def test_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("0\n1\nbanana\n")
    with pytest.raises(TraceError, match=r"bad\.txt:3"):
        traces.read_trace(path)


def test_bad_azure_number_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                    "2023-11-16 18:15:46.5,10,5\n2023-11-16 18:15:47.5,x,5\n")
    with pytest.raises(TraceError, match=r"bad\.csv:3: ContextTokens"):
        traces.read_trace(path)


def test_missing_and_empty_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read"):
        traces.read_trace(tmp_path / "nope.csv")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(TraceError, match="no arrivals"):
        traces.read_trace(empty)


def test_azure_functions_counts_become_poisson_minutes(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    header = "HashOwner,HashApp,HashFunction,Trigger,1,2,3"
    path.write_text(f"{header}\na,b,c,http,10,0,5\nd,e,f,timer,2,0,1\n")
    trace = traces.read_trace(path, seed=3)
    assert len(trace) == 18
    assert trace.duration_s == 180.0
    assert np.sum(trace.arrivals < 60) == 12
    assert np.sum((trace.arrivals >= 60) & (trace.arrivals < 120)) == 0
    assert trace.credit == traces.AZURE_FUNCTIONS_CREDIT
    again = traces.read_trace(path, seed=3)
    assert np.array_equal(trace.arrivals, again.arrivals)


@pytest.mark.parametrize("name", traces.SYNTHETIC)
def test_synthetic_profiles_hit_their_mean_rate(name: str) -> None:
    rate, duration = 200.0, 600.0
    trace = traces.synthetic(name, rate, duration, seed=7)
    expected = {"constant": 1.0, "step": 1 / 3 + 6 * 2 / 3, "spike": 0.95 + 10 * 0.05,
                "ramp": 4.5, "sine": 1.0}
    assert np.all(np.diff(trace.arrivals) >= 0)
    assert trace.arrivals[-1] < duration
    if name in expected:
        assert trace.mean_rate == pytest.approx(rate * expected[name], rel=0.02)
    else:
        assert rate < trace.mean_rate < 6 * rate
    again = traces.synthetic(name, rate, duration, seed=7)
    assert np.array_equal(trace.arrivals, again.arrivals)


def test_step_rates_before_and_after() -> None:
    trace = traces.step(100, 500, 50, 100, seed=1)
    before = np.sum(trace.arrivals < 50) / 50
    after = np.sum(trace.arrivals >= 50) / 50
    assert before == pytest.approx(100, rel=0.05)
    assert after == pytest.approx(500, rel=0.05)


def test_uniform_spacing_is_exact() -> None:
    trace = traces.constant(4, 2, seed=0, spacing="uniform")
    assert trace.arrivals.tolist() == pytest.approx([0.125, 0.375, 0.625, 0.875, 1.125, 1.375,
                                                     1.625, 1.875])


def test_sine_follows_its_rate() -> None:
    trace = traces.sine(100, 80, 100, 100, seed=2)
    first_half = np.sum(trace.arrivals < 50)
    second_half = np.sum(trace.arrivals >= 50)
    # integral of 80 sin over a half period = 80 * 100 / pi
    assert first_half == pytest.approx(5000 + 8000 / np.pi, rel=0.05)
    assert second_half == pytest.approx(5000 - 8000 / np.pi, rel=0.05)


def test_speedup_and_rate_scale() -> None:
    base = traces.constant(100, 100, seed=1)
    fast = traces.scaled(base, speedup=4)
    assert fast.duration_s == 25
    assert np.allclose(fast.arrivals * 4, base.arrivals)
    more = traces.scaled(base, rate_scale=2.5, seed=1)
    assert len(more) == pytest.approx(2.5 * len(base), rel=0.02)
    assert np.all(np.diff(more.arrivals) >= 0)
    assert more.duration_s == base.duration_s
    fewer = traces.scaled(base, rate_scale=0.3, seed=1)
    assert len(fewer) == pytest.approx(0.3 * len(base), rel=0.05)


def test_window_shifts_to_zero() -> None:
    trace = traces.constant(10, 10, seed=0, spacing="uniform")
    part = traces.window(trace, 2, 4)
    assert len(part) == 20
    assert part.arrivals[0] == pytest.approx(0.05)
    assert part.duration_s == 2


def test_generator_knobs_are_checked() -> None:
    with pytest.raises(TraceError, match="duration"):
        traces.constant(1, 0, seed=0)
    with pytest.raises(TraceError, match="rate"):
        traces.constant(-1, 10, seed=0)
    with pytest.raises(TraceError, match="step time"):
        traces.step(1, 2, 20, 10, seed=0)
    with pytest.raises(TraceError, match="unknown synthetic"):
        traces.synthetic("square", 1, 10, seed=0)
    with pytest.raises(TraceError, match="speedup"):
        traces.scaled(traces.constant(1, 10, seed=0), speedup=0)


def test_the_azure_trace_ships_inside_the_package_with_its_credit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = traces.bundled_trace("azure_llm_2023_conv.csv")
    assert shipped.is_file() and shipped.stat().st_size < 1_000_000
    if AZURE.exists():
        assert shipped.read_bytes() == AZURE.read_bytes()
    credit = (shipped.parent / "README.md").read_text()
    assert "CC-BY 4.0" in credit and "Splitwise" in credit and "Patel et al." in credit
    monkeypatch.chdir(tmp_path)  # a bare name finds the shipped copy from anywhere
    trace = traces.read_trace(Path("azure_llm_2023_conv.csv"), speedup=20)
    assert len(trace) == 19_366 and trace.credit is not None and "Splitwise" in trace.credit
    with pytest.raises(TraceError, match="cannot read trace"):
        traces.read_trace(Path("elsewhere") / "azure_llm_2023_conv.csv")
    with pytest.raises(TraceError, match=r"shipped: azure_llm_2023_conv\.csv"):
        traces.bundled_trace("other.csv")

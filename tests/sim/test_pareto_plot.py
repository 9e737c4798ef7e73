"""The Pareto plot names every policy without overlapping labels and draws the oracle even when
it is a single point (issue 14, rough edge 15)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ebb.sim import report
from ebb.sim.compare import compare
from ebb.sim.world import ColdStart, PolicySpec, ServiceModel, World
from ebb.traces import constant


def test_pareto_names_policies_in_a_legend_and_draws_the_oracle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = report._pyplot()
    kept: list[Any] = []

    class KeepFigure:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def close(self, figure: Any) -> None:
            kept.append(figure)

    monkeypatch.setattr(report, "_pyplot", KeepFigure)
    trace = constant(rate=20, duration_s=30, seed=1)
    world = World(ServiceModel(0.02, 0.002), ColdStart(1.0), slo_s=0.1, min_workers=1,
                  max_workers=8)
    comparison = compare(trace, world, [PolicySpec("ebb"), PolicySpec("hpa"),
                                        PolicySpec("keda")], seed=1)
    report.pareto_png(tmp_path / "pareto.png", comparison)
    assert (tmp_path / "pareto.png").stat().st_size > 10_000
    (figure,) = kept
    axes = figure.axes[0]
    assert len(axes.texts) == 0  # no labels beside points, which overlapped
    legend = axes.get_legend()
    names = [text.get_text() for text in legend.get_texts()]
    assert names[0] == "ideal oracle (lower bound)"
    for policy in ("ebb", "hpa", "keda"):
        assert any(name.startswith(f"{policy}: ") for name in names)
    oracle = next(line for line in axes.get_lines()
                  if line.get_label() == "ideal oracle (lower bound)")
    assert len(oracle.get_xdata()) >= 1 and oracle.get_marker() not in ("None", None, "")
    figure.canvas.draw()
    legend_box = legend.get_window_extent()
    assert legend_box.x0 >= axes.get_window_extent().x1  # beside the plot, covering no point
    real.close(figure)

"""The report's decisions table: every scale event with a reason naming the term behind it."""

from __future__ import annotations

from ebb.sim.compare import compare
from ebb.sim.decisions import decisions_html
from ebb.sim.world import ColdStart, PolicySpec, ServiceModel, World
from ebb.traces import synthetic


def test_ebb_decisions_name_their_term() -> None:
    trace = synthetic("spike", 60, 60, seed=2)
    world = World(ServiceModel(0.02, 0.0), ColdStart(2.0), slo_s=0.2, max_workers=16,
                  max_batch_size=1)
    result = compare(trace, world, [PolicySpec("ebb"), PolicySpec("hpa")], seed=0)
    events = result.runs[0].scale_events
    assert events
    terms = ("rate ->", "backlog ->", "projected backlog ->", "forecast ->", "keep-alive")
    assert all(any(term in e.reason for term in terms) for e in events)
    page = decisions_html(result, limit=3)
    assert page.count("<h3>") == 2
    assert "&rarr;" in page and "ebb: " in page

"""The scale decisions of a run with their reasons, for the report beside the timelines: each
reason names the term that drove it (rate, backlog, projected backlog, forecast, keep-alive for
Ebb; each baseline's own words for the others).

    html = decisions_html(comparison, limit=40)
"""

from __future__ import annotations

import html

from ebb.sim.compare import Comparison

DEFAULT_LIMIT = 40
"""Decisions shown per policy (the first ones: a burst's story is at its start)."""


def decisions_html(comparison: Comparison, limit: int = DEFAULT_LIMIT) -> str:
    """One table per policy: time, workers before and after, and the reason."""
    esc = html.escape
    parts = ["<h2>Scale decisions</h2>"]
    for run in comparison.runs:
        events = run.scale_events
        shown = events[:limit]
        more = f" (first {limit} of {len(events)})" if len(events) > limit else ""
        parts.append(f"<h3>{esc(run.policy)}{more}</h3><table><tr><th>s</th><th>workers</th>"
                     "<th style='text-align:left'>reason</th></tr>")
        parts += [f"<tr><td>{e.at:.1f}</td><td>{e.before} &rarr; {e.after}</td>"
                  f"<td style='text-align:left'>{esc(e.reason)}</td></tr>" for e in shown]
        parts.append("</table>")
    return "\n".join(parts)

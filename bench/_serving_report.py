"""Results of ``bench/serving.py``: one row per measurement, rounds combined, table and targets.

This machine's speed drifts by a fifth or more from minute to minute (the raw ASGI ceiling
alone has ranged from 13.5k to 20k req/s), so ``--rounds N`` measures everything N times,
servers interleaved, and a row shows the median with the range of req/s and the number of
rounds counted (the quiet ones, when any was quiet).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from _serving_load import LoadResult

RAW_ASGI, RAW_GRPC = "raw ASGI", "raw grpc.aio"
RAW_PROTOCOL = "lean Python"  # bench/raw_protocol.py
TRITON = "Triton"
EBB_BEFORE = "Ebb before"
QUIET_THRESHOLD = 0.10  # CPUs' worth of time other processes may use while we measure


@dataclass(frozen=True)
class Case:
    """One measurement: which run, server, protocol and concurrency."""

    run: str  # "double" or "batching"
    server: str  # "Ebb", EBB_BEFORE, TRITON, "KServe", RAW_ASGI, RAW_GRPC or RAW_PROTOCOL
    protocol: str  # "REST" or "gRPC"
    connections: int


@dataclass(frozen=True)
class Row:
    case: Case
    result: LoadResult
    others_cpu: float
    """CPUs' worth of time that processes outside this benchmark used during the measurement."""
    rps_range: tuple[float, float] | None = None
    """Lowest and highest req/s over the rounds counted, when there were several."""
    rounds: int = 1
    """How many rounds the figures combine."""


def combine_rounds(rounds: Sequence[Sequence[Row]]) -> list[Row]:
    """One row per case: medians of req/s, p50 and p99; errors summed; others' CPU at worst.

    Rounds that other processes disturbed are left out when at least one round was quiet.
    """
    if len(rounds) == 1:
        return list(rounds[0])
    combined = []
    for case in [row.case for row in rounds[0]]:
        rows = [row for round_rows in rounds for row in round_rows if row.case == case]
        rows = [row for row in rows if row.others_cpu <= QUIET_THRESHOLD] or rows
        results = [row.result for row in rows]
        rates = [result.rps for result in results]
        median = LoadResult(
            requests=sum(result.requests for result in results),
            rps=statistics.median(rates),
            p50_ms=statistics.median(result.p50_ms for result in results),
            p99_ms=statistics.median(result.p99_ms for result in results),
            errors=sum(result.errors for result in results),
            error_detail="; ".join(r.error_detail for r in results if r.error_detail))
        combined.append(Row(case, median, max(row.others_cpu for row in rows),
                            (min(rates), max(rates)), len(rows)))
    return combined


def find(rows: Sequence[Row], run: str, server: str, protocol: str, connections: int
         ) -> Row | None:
    for row in rows:
        if row.case == Case(run, server, protocol, connections):
            return row
    return None


def ratio_vs(rows: Sequence[Row], row: Row, server: str) -> str:
    """This row's req/s over ``server``'s on the same case (for Ebb's rows: Ebb / server)."""
    other = find(rows, row.case.run, server, row.case.protocol, row.case.connections)
    if other is None or not other.result.rps:
        return "—"
    return f"{row.result.rps / other.result.rps:.2f}x"


def _rate(row: Row) -> str:
    if row.rps_range is None:
        return f"{row.result.rps:,.0f}"
    low, high = row.rps_range
    return f"{row.result.rps:,.0f} ({low:,.0f} to {high:,.0f}, n={row.rounds})"


def render_table(rows: Sequence[Row]) -> str:
    lines = ["| run | server | protocol | conc. | req/s | p50 ms | p99 ms | errors | vs Triton "
             "| vs KServe | others' CPU |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        case, result = row.case, row.result
        lines.append(f"| {case.run} | {case.server} | {case.protocol} | {case.connections} | "
                     f"{_rate(row)} | {result.p50_ms:.2f} | {result.p99_ms:.2f} | "
                     f"{result.errors} | {ratio_vs(rows, row, TRITON)} | "
                     f"{ratio_vs(rows, row, 'KServe')} | {row.others_cpu:.2f} |")
    return "\n".join(lines)


def _verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def _ratio(rows: Sequence[Row], run: str, other: str, protocol: str, connections: int
           ) -> tuple[float, Row] | None:
    ebb = find(rows, run, "Ebb", protocol, connections)
    them = find(rows, run, other, protocol, connections)
    if ebb is None or them is None or not them.result.rps:
        return None
    return ebb.result.rps / them.result.rps, ebb


def _target(rows: Sequence[Row], label: str, run: str, other: str, protocol: str,
            connections: int, goal: float) -> list[str]:
    found = _ratio(rows, run, other, protocol, connections)
    if found is None:
        return []
    ratio, ebb = found
    return [f"- {label} c{connections}: Ebb {ebb.result.rps:,.0f} req/s = {ratio:.2f}x {other} "
            f"(target ≥ {goal:g}x) {_verdict(ratio >= goal)}"]


def target_lines(rows: Sequence[Row], connections: Sequence[int], batching: int) -> list[str]:
    """Each target of issue 15 with the measured figures, met or missed."""
    lines = []
    for conc in connections:
        lines += _target(rows, "REST double", "double", TRITON, "REST", conc, 1.3)
    top = max(connections)
    lines += _target(rows, "batching", "batching", TRITON, "REST", batching, 1.2)
    lines += _target(rows, "gRPC double", "double", "KServe", "gRPC", top, 2.0)
    lines += _target(rows, "gRPC double", "double", TRITON, "gRPC", top, 1.0)
    lines += _ceiling_lines(rows, top)
    if any(row.result.errors for row in rows):
        lines.append("- some runs had errors (see the errors column): their figures do not count")
    if noisy := [row for row in rows if row.others_cpu > QUIET_THRESHOLD]:
        lines.append(f"- {len(noisy)} row(s) ran while other processes used more than "
                     f"{QUIET_THRESHOLD:.0%} of a CPU (column others' CPU): treat with caution")
    return lines


def _ceiling_lines(rows: Sequence[Row], top: int) -> list[str]:
    """Ebb against the raw ASGI app (the stretch target) and against a bare grpc.aio handler."""
    lines = []
    ebb_rest, raw_rest = (find(rows, "double", server, "REST", top) for server in ("Ebb", RAW_ASGI))
    if ebb_rest and raw_rest:
        share = ebb_rest.result.rps / raw_rest.result.rps
        lines.append(f"- stretch, REST c{top}: {share:.0%} of the raw ASGI ceiling (target ≥ 50 %) "
                     f"{_verdict(share >= 0.5)}")
    lean = find(rows, "double", RAW_PROTOCOL, "REST", top)
    if ebb_rest and lean:
        lines.append(f"- context, REST c{top}: a lean Python path with a queue and a batcher "
                     f"(bench/raw_protocol.py) reaches {lean.result.rps:,.0f} req/s; Ebb gets "
                     f"{ebb_rest.result.rps / lean.result.rps:.0%} of it")
    raw_grpc = find(rows, "double", RAW_GRPC, "gRPC", top)
    ebb_grpc = find(rows, "double", "Ebb", "gRPC", top)
    if raw_grpc and ebb_grpc:
        raw = raw_grpc.result.rps
        lines.append(f"- context, gRPC c{top}: a bare grpc.aio handler reaches {raw:,.0f} req/s; "
                     f"Ebb gets {ebb_grpc.result.rps / raw:.0%} of it")
    return lines

"""The results of ``bench/reliability.py``: one row per experiment, a markdown table, and the
section of bench/README.md that carries the last full run (replaced between its markers)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

README_BEGIN = "<!-- BEGIN reliability section (bench/reliability.py) -->"
README_END = "<!-- END reliability section -->"
COLUMNS = ("Scenario", "Load held", "Faults survived", "Bad inputs tried",
           "Accepted requests lost", "Normal client p99", "Server errors")


@dataclass
class Row:
    scenario: str
    load: str
    faults: str = "-"
    bad_inputs: str = "-"
    lost: str = "-"
    normal_p99: str = "-"
    server_errors: str = "-"
    """5xx / INTERNAL / UNKNOWN answers that client input caused (expected poison 500s apart)."""
    notes: list[str] = field(default_factory=list)
    failed: bool = False
    """A target was missed (lost requests, server errors, a limit exceeded)."""

    def cells(self) -> tuple[str, ...]:
        mark = " **(missed)**" if self.failed else ""
        return (self.scenario + mark, self.load, self.faults, self.bad_inputs, self.lost,
                self.normal_p99, self.server_errors)


def ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f} ms"


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row.cells()) + " |"
              for row in rows]
    return "\n".join(lines)


def notes_list(rows: Sequence[Row]) -> str:
    lines = []
    for row in rows:
        for note in row.notes:
            lines.append(f"- **{row.scenario}**: {note}")
    return "\n".join(lines)


def results_document(rows: Sequence[Row], command: str, setup: str, stamp: str,
                     elapsed_s: float) -> str:
    return "\n\n".join([
        f"# Reliability, {stamp}",
        f"Command: `{command}` ({elapsed_s:.0f} s). {setup}",
        markdown_table(rows),
        "What each row measured:",
        notes_list(rows),
    ]) + "\n"


def update_readme(readme: Path, body: str) -> None:
    """Replace the reliability section between its markers (append it when absent)."""
    text = readme.read_text()
    block = f"{README_BEGIN}\n{body.rstrip()}\n{README_END}"
    pattern = re.compile(re.escape(README_BEGIN) + r".*?" + re.escape(README_END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    readme.write_text(text)


HOW = """How it measures (targets from issue 12: 0 accepted requests lost, 0 server errors from
client input, a normal client's p99 under 100 ms and the gateway's RSS growth under 64 MB during
any attack, SIGTERM readiness off within 100 ms and exit within the drain timeout + 2 s):

- **Overload**: open-loop arrivals at 10x what one worker of `builtin:sleep?ms=50` serves
  (200 req/s against 20), batching off, queue of 64, 30 s per protocol. *Accepted* means not
  refused at once with 503 / UNAVAILABLE; *lost* means accepted and not answered 200 / OK.
  **Gateway saturation** offers 600 req/s for 10 s: beyond what the gateway's share of its
  (shared) core can even refuse over gRPC, to show where that limit is and what happens past it.
- **kill -9**: a worker of two is killed every second while REST and gRPC traffic flows.
- **Scale-in**: autoscaling 1-4 workers; 2.4x one worker's capacity, then 0.3x, so the
  controller drains workers while requests keep coming.
- **SIGTERM**: REST and gRPC requests queued behind a 100 ms model, then SIGTERM to the gateway.
- **Hostile** and **slow** rows: each attack runs while a normal client sends health checks and
  small infers back to back on one connection (its p99 against the baseline row measured just
  before, with no attack); the servers run with `--header-timeout-s 1 --body-timeout-s 1
  --keep-alive-s 2 --max-connections 400 --max-header-kb 16`. Hung and poison requests use
  `builtin:chaos?hang_on=7&crash_on=13` (a row starting with 7 never finishes, one starting with
  13 kills its worker), two workers, batching off.
- **Fuzz**: the hypothesis strategies of `tests/protocol/test_grpc_fuzz.py` (random
  ModelInferRequests, random bytes) in-process, and schemathesis with every check against
  `/openapi.json` (full run only); a server error is any INTERNAL / UNKNOWN or a failed check."""


def readme_section(rows: Sequence[Row], command: str, setup: str, stamp: str,
                   elapsed_s: float) -> str:
    return "\n\n".join([
        "## Reliability (`bench/reliability.py`)",
        f"`{command}` runs every experiment below against real `ebb serve` processes in about "
        f"{elapsed_s / 60:.0f} minutes (`--quick`: shorter runs, about 90 s; `--only NAME ...` "
        f"runs some). It writes `bench/results/reliability.md`, and a full run rewrites this "
        f"section. {setup}",
        HOW,
        f"Last full run, {stamp} ({elapsed_s:.0f} s):",
        markdown_table(rows),
        notes_list(rows),
    ])

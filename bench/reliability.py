"""Reliability under what production throws at a server, against real ``ebb serve`` processes,
in one command (issue 12): 10x overload on REST and gRPC, workers killed with ``kill -9`` under
load, scale-in under load, SIGTERM with queued work, a battery of hostile requests (a hung model,
poison pills, huge claimed shapes, deep nesting, slowloris, huge headers, bad gRPC bytes) and
slow clients while a normal client measures its latency, and the fuzzers (schemathesis against
``/openapi.json``, the hypothesis gRPC fuzz of tests/protocol/test_grpc_fuzz.py).

Counts per experiment: load held, faults survived, bad inputs tried, accepted requests lost
(target 0), the normal client's p99 (target 100 ms) and server errors caused by client input
(target 0). Loopback only; servers on CPU 0, this process (the load) on CPU 1. Usage::

    .venv/bin/python bench/reliability.py            # everything, ~5 minutes; updates README
    .venv/bin/python bench/reliability.py --quick    # shorter runs, ~90 s
    .venv/bin/python bench/reliability.py --only sigterm hostile --no-readme

Writes bench/results/reliability.md (and the server logs next to it); a full run also replaces
the "Reliability" section of bench/README.md. Exit status 1 when a target was missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[1:1] = [str(ROOT)]  # tests.protocol.test_grpc_fuzz: the fuzz's generators

from _reliability_faults import (  # noqa: E402
    kill_workers,
    overload,
    saturation,
    scale_in,
    sigterm,
)
from _reliability_fuzz import fuzzers  # noqa: E402
from _reliability_hostile import hostile, slow_clients  # noqa: E402
from _reliability_procs import Bench, pin_load  # noqa: E402
from _reliability_report import (  # noqa: E402
    Row,
    markdown_table,
    notes_list,
    readme_section,
    results_document,
    update_readme,
)

EXPERIMENTS: dict[str, Callable[[Bench], list[Row]]] = {
    "overload": overload, "saturation": saturation, "kill": kill_workers, "scale-in": scale_in,
    "sigterm": sigterm, "hostile": hostile, "slow": slow_clients, "fuzz": fuzzers,
}
FULL_ONLY = ("saturation",)
"""Left out of --quick unless named with --only."""
RESULTS = ROOT / "bench" / "results"
README = ROOT / "bench" / "README.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (~90 s)")
    parser.add_argument("--only", nargs="+", choices=sorted(EXPERIMENTS), metavar="NAME",
                        help=f"run only these: {', '.join(EXPERIMENTS)}")
    parser.add_argument("--out", type=Path, default=RESULTS / "reliability.md",
                        help="where the results table goes (default: %(default)s)")
    parser.add_argument("--no-readme", action="store_true",
                        help="leave bench/README.md alone (a quick or partial run always does)")
    return parser.parse_args(argv)


def _command(args: argparse.Namespace) -> str:
    parts = [".venv/bin/python bench/reliability.py"]
    if args.quick:
        parts.append("--quick")
    if args.only:
        parts.append("--only " + " ".join(args.only))
    return " ".join(parts)


def run(args: argparse.Namespace) -> list[Row]:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="reliability-logs-", dir=args.out.parent))
    bench = Bench(log_dir, args.quick)
    bench.say(f"{pin_load()}; server logs in {log_dir}")
    rows: list[Row] = []
    names = args.only or [name for name in EXPERIMENTS
                          if not (args.quick and name in FULL_ONLY)]
    for name in names:
        try:
            rows += EXPERIMENTS[name](bench)
        except Exception as error:  # one broken experiment must not hide the others' results
            last_line = (str(error).strip().splitlines() or [""])[-1]
            bench.say(f"{name} FAILED: {type(error).__name__}: {error}")
            rows.append(Row(name, "-", lost="not measured",
                            notes=[f"failed: {type(error).__name__}: {last_line}"], failed=True))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    rows = run(args)
    elapsed = time.monotonic() - began
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
    setup = ("Loopback; servers pinned to CPU 0, load and attackers to CPU 1 of a shared, noisy "
             "2-core machine.")
    document = results_document(rows, _command(args), setup, stamp, elapsed)
    args.out.write_text(document)
    print("\n" + markdown_table(rows) + "\n\n" + notes_list(rows))
    print(f"\nwritten to {args.out} ({elapsed:.0f} s)")
    if not (args.quick or args.only or args.no_readme):
        update_readme(README, readme_section(rows, _command(args), setup, stamp, elapsed))
        print(f"updated {README}")
    return 1 if any(row.failed for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

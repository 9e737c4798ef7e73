"""The command line of ``bench/serving.py``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from _serving_report import EBB_BEFORE

BENCH = Path(__file__).resolve().parent
README = BENCH / "README.md"


def parse_args(argv: Sequence[str] | None, description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=2,
                        help="seconds of load, not measured, before each measurement")
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64],
                        help="concurrency levels of the double runs")
    parser.add_argument("--batching-connections", type=int, default=64)
    parser.add_argument("--only", action="append", choices=["ebb", "triton", "kserve", "raw"],
                        help="servers to run (repeatable; default: all)")
    parser.add_argument("--run", action="append", choices=["rest", "grpc", "batching"],
                        help="runs to do (repeatable; default: all)")
    parser.add_argument("--skip-kserve-install", action="store_true",
                        help="use bench/.venv-kserve as it is; never pip install")
    parser.add_argument("--skip-triton-install", action="store_true",
                        help="use bench/.venv-triton as it is; never pip install")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--ebb-workers", type=int, default=1)
    parser.add_argument("--ebb-max-batch-size", type=int, default=None,
                        help="for the double runs (default: Ebb's default)")
    parser.add_argument("--ebb-max-batch-delay-ms", type=float, default=None,
                        help="for the double runs (default: Ebb's default)")
    parser.add_argument("--wait-idle", type=float, default=300.0,
                        help="seconds to wait, before each server, for other work to leave "
                             "the two CPUs (this machine may be shared)")
    parser.add_argument("--retries", type=int, default=3,
                        help="measure a row again, up to this many times, when other processes "
                             "used more than 10%% of a CPU during it")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure everything this many times, servers interleaved; the "
                             "table shows medians and the range of req/s")
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="also run Ebb from this source directory (e.g. `git archive HEAD "
                             "src | tar -x -C /tmp/before`, then /tmp/before/src), interleaved, "
                             f"as {EBB_BEFORE!r}")
    parser.add_argument("--update-readme", action="store_true",
                        help=f"write the results into {README.relative_to(BENCH.parent)}")
    return parser.parse_args(argv)


def ebb_double_flags(args: argparse.Namespace) -> tuple[str, ...]:
    flags = ["--workers", str(args.ebb_workers)]
    if args.ebb_max_batch_size is not None:
        flags += ["--max-batch-size", str(args.ebb_max_batch_size)]
    if args.ebb_max_batch_delay_ms is not None:
        flags += ["--max-batch-delay-ms", str(args.ebb_max_batch_delay_ms)]
    return tuple(flags)

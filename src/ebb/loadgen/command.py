"""``ebb load``: argv -> a validated LoadConfig -> run_load -> summary, CSV and plot.

Importing this module stays cheap (no grpc, httpx or matplotlib) so that wiring it into the
``ebb`` parser costs other commands nothing; the load machinery is imported by ``run``.

Exit status: 0 when the run completed (whatever the server answered), 1 when it could not start
(target unreachable, no usable request), 2 for invalid flags.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from ebb.loadgen.schedule import MAX_REQUESTS, PROFILES, ProfileSpec, ScheduleError

if TYPE_CHECKING:
    from ebb.loadgen.config import LoadConfig
    from ebb.loadgen.progress import Progress
    from ebb.loadgen.runner import LoadResult

DEFAULT_URL = "http://127.0.0.1:8080"
_T = TypeVar("_T")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``ebb load`` flags to ``parser``, one argument group per concern."""
    _add_target_arguments(parser)
    _add_profile_arguments(parser)
    _add_bounds_arguments(parser)
    _add_output_arguments(parser)


def _add_target_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_argument_group("target")
    target.add_argument("url", nargs="?", metavar="URL",
                        help=f"server base URL, http://host:port (default: {DEFAULT_URL} unless "
                             "--grpc is given); also where metadata and /metrics are read")
    target.add_argument("--grpc", metavar="HOST:PORT",
                        help="send the load over gRPC to this target instead of REST")
    target.add_argument("--model", required=True, help="model name to load")
    target.add_argument("--input-json", type=Path, metavar="FILE",
                        help="a v2 infer request body to send (default: random inputs built "
                             "from the model's metadata)")
    target.add_argument("--metrics-url", metavar="URL",
                        help="the server's Prometheus endpoint to poll (default: URL/metrics)")
    target.add_argument("--no-metrics", action="store_true", help="do not poll /metrics")
    target.add_argument("--ca-file", type=Path, metavar="FILE",
                        help="PEM CA that signed the server's certificate (https:// URLs, and "
                             "TLS gRPC; default: the system's CAs)")
    target.add_argument("--cert-file", type=Path, metavar="FILE",
                        help="PEM client certificate for mutual TLS (with --key-file)")
    target.add_argument("--key-file", type=Path, metavar="FILE",
                        help="PEM private key of --cert-file")
    target.add_argument("--grpc-tls", action="store_true",
                        help="gRPC over TLS (implied by --ca-file, --cert-file or an https URL)")


def _add_profile_arguments(parser: argparse.ArgumentParser) -> None:
    load = parser.add_argument_group("load profile")
    load.add_argument("--profile", choices=PROFILES, default="constant",
                      help="arrival-rate shape (default: constant)")
    load.add_argument("--rate", type=float, default=10.0,
                      help="requests/s: the constant rate, or the base rate of step, spike, "
                           "ramp (start) and sine (mean) (default: 10)")
    load.add_argument("--duration", type=float, metavar="S",
                      help="seconds of load (default: 10; for --profile trace the trace's "
                           "length after --speedup)")
    load.add_argument("--arrivals", choices=("poisson", "uniform"), default="poisson",
                      help="Poisson arrivals at the profile's rate, or evenly spaced "
                           "(default: poisson)")
    load.add_argument("--step-to", type=float, metavar="RATE", help="step: the rate after the step")
    load.add_argument("--step-at", type=float, metavar="S",
                      help="step: when the step happens (default: half the duration)")
    load.add_argument("--spike-rate", type=float, metavar="RATE", help="spike: rate in the spike")
    load.add_argument("--spike-at", type=float, metavar="S",
                      help="spike: when it starts (default: a third of the duration)")
    load.add_argument("--spike-duration", type=float, metavar="S",
                      help="spike: how long it lasts (default: a tenth of the duration)")
    load.add_argument("--ramp-to", type=float, metavar="RATE",
                      help="ramp: the rate reached at the end")
    load.add_argument("--sine-amplitude", type=float, metavar="RATE",
                      help="sine: swing around --rate (default: half of --rate)")
    load.add_argument("--sine-period", type=float, metavar="S",
                      help="sine: period (default: the duration)")
    load.add_argument("--trace", type=Path, metavar="FILE",
                      help="trace: one arrival timestamp per line, or the Azure LLM trace CSV")
    load.add_argument("--speedup", type=float, default=1.0,
                      help="trace: time compression, 10 plays 10 s of trace per second")
    load.add_argument("--rate-scale", type=float, default=1.0,
                      help="trace: multiply the trace's rate (thinning below 1)")
    load.add_argument("--seed", type=int, default=0,
                      help="seed of arrival times and random inputs (default: 0)")


def _add_bounds_arguments(parser: argparse.ArgumentParser) -> None:
    bounds = parser.add_argument_group("bounds")
    bounds.add_argument("--max-requests", type=int, default=1_000_000,
                        help=f"stop scheduling after this many (at most {MAX_REQUESTS}; "
                             "default: 1000000)")
    bounds.add_argument("--concurrency-limit", type=int, default=1000,
                        help="most requests outstanding at once; arrivals beyond it are "
                             "counted as client-dropped (default: 1000)")
    bounds.add_argument("--timeout-s", type=float, default=10.0,
                        help="per-request timeout (default: 10)")


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    output = parser.add_argument_group("output")
    output.add_argument("--slo-ms", type=float, default=100.0,
                        help="latency SLO for the attainment figure (default: 100)")
    output.add_argument("--csv", type=Path, metavar="FILE", help="write a per-second timeline")
    output.add_argument("--plot", type=Path, metavar="FILE", help="write a PNG of the run")
    output.add_argument("--json", action="store_true",
                        help="print the summary as JSON on stdout (the text goes to stderr)")
    output.add_argument("--no-progress", action="store_true",
                        help="no progress line on stderr")


def profile_from_args(args: argparse.Namespace) -> ProfileSpec:
    return ProfileSpec(
        kind=args.profile, rate=args.rate, duration_s=args.duration, arrivals=args.arrivals,
        step_to=args.step_to, step_at=args.step_at, spike_rate=args.spike_rate,
        spike_at=args.spike_at, spike_duration=args.spike_duration, ramp_to=args.ramp_to,
        sine_amplitude=args.sine_amplitude, sine_period=args.sine_period, trace=args.trace,
        speedup=args.speedup, rate_scale=args.rate_scale, max_requests=args.max_requests,
        seed=args.seed,
    )


def config_from_args(args: argparse.Namespace) -> LoadConfig:
    from ebb.loadgen.config import ClientTls, LoadConfig
    from ebb.loadgen.schedule import build_schedule

    url = args.url
    if url is None and args.grpc is None:
        url = DEFAULT_URL
    metrics_url = args.metrics_url
    if metrics_url is None and url is not None:
        metrics_url = url.rstrip("/") + "/metrics"
    secure = bool(args.grpc_tls or args.ca_file or args.cert_file
                  or (url or "").startswith("https://"))
    return LoadConfig(
        schedule=build_schedule(profile_from_args(args)), model=args.model, url=url,
        grpc_target=args.grpc, metrics_url=None if args.no_metrics else metrics_url,
        input_json=args.input_json, seed=args.seed, concurrency_limit=args.concurrency_limit,
        timeout_s=args.timeout_s, slo_s=args.slo_ms / 1000,
        tls=ClientTls(args.ca_file, args.cert_file, args.key_file, grpc=secure),
    )


def run(args: argparse.Namespace) -> int:
    from ebb.loadgen.config import LoadConfigError
    from ebb.loadgen.payload import PayloadError

    try:
        config = config_from_args(args)
        _check_outputs(args)
    except (LoadConfigError, ScheduleError) as error:
        print(f"ebb load: {error}", file=sys.stderr)
        return 2
    progress = None if args.no_progress else _ProgressLine(sys.stderr)
    try:
        result = _run_async(_main(config, progress))
    except (PayloadError, OSError) as error:
        print(f"ebb load: {error}", file=sys.stderr)
        return 1
    finally:
        if progress is not None:
            progress.finish()
    return _report(result, args)


def _check_outputs(args: argparse.Namespace) -> None:
    """Fail before the run, not after it, when its results could not be written."""
    from ebb.loadgen.config import LoadConfigError

    for flag, path in (("--csv", args.csv), ("--plot", args.plot)):
        if path is not None and not path.resolve().parent.is_dir():
            raise LoadConfigError(f"{flag} {path}: no such directory {path.parent}")
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise LoadConfigError("--plot needs matplotlib (pip install 'ebb[plots]')")


async def _main(config: LoadConfig, progress: _ProgressLine | None) -> LoadResult:
    from ebb.loadgen.runner import run_load

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        return await run_load(config, progress=progress, stop=stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _run_async(main: Coroutine[Any, Any, _T]) -> _T:
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        pass
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def _report(result: LoadResult, args: argparse.Namespace) -> int:
    from ebb.loadgen.report import summary_json, summary_text, write_csv

    text = summary_text(result)
    status = 0
    try:
        if args.csv is not None:
            write_csv(result.timeline, args.csv)
            text += f"\n  wrote      {args.csv}"
        if args.plot is not None:
            from ebb.loadgen.plot import write_plot

            write_plot(result, args.plot)
            text += f"\n  wrote      {args.plot}"
    except OSError as error:
        text += f"\nebb load: cannot write output: {error}"
        status = 1
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps(summary_json(result), indent=2))
    else:
        print(text)
    return status


class _ProgressLine:
    """Rewrites one line in place on a terminal; prints a line a second elsewhere."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._open = False

    def __call__(self, progress: Progress) -> None:
        from ebb.loadgen.progress import format_progress

        line = format_progress(progress)
        if self._tty:
            self._stream.write("\r" + line + "\x1b[K")
            self._open = True
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def finish(self) -> None:
        if self._open:
            self._stream.write("\n")
            self._stream.flush()
            self._open = False

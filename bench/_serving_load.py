"""Load generators for ``bench/serving.py``: wrk for REST, h2load speaking gRPC, and their parsing.

Both run pinned to one CPU with one thread and a fixed number of connections, one request in
flight per connection (closed loop), for a fixed duration.

- wrk gets a Lua script that only sets method, body and headers: a ``response`` callback would
  make wrk itself the bottleneck. Its ``--latency`` table gives p50 and p99.
- h2load posts a gRPC frame (flag byte, big-endian length, serialized ``ModelInferRequest``) to
  ``/inference.GRPCInferenceService/ModelInfer`` over h2c. It sees HTTP status only, and a gRPC
  error is an HTTP 200 whose trailers carry ``grpc-status``; so a run also counts the response
  DATA bytes, and one that averages less than a real answer is reported as failing. Percentiles
  come from its per-request ``--log-file``.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

WRK_TIMEOUT_S = 30  # wrk's default, 2 s, would drop slow answers from the percentiles
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class Load:
    """One closed-loop run: where, how many connections, how long, pinned to which CPU."""

    url: str
    connections: int
    duration_s: int
    cpu: int


@dataclass(frozen=True)
class LoadResult:
    """What a load generator measured; ``errors`` counts every answer that was not a success."""

    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_detail: str = ""


def wrk_script(body: str, path: Path) -> Path:
    """A Lua script for wrk that sets method, body and header — and nothing else."""
    path.write_text('wrk.method = "POST"\n'
                    f"wrk.body = [==[{body}]==]\n"
                    'wrk.headers["Content-Type"] = "application/json"\n')
    return path


def run_wrk(load: Load, script: Path) -> LoadResult:
    argv = ["taskset", "-c", str(load.cpu), "wrk", "-t1", f"-c{load.connections}",
            f"-d{load.duration_s}s", f"--timeout={WRK_TIMEOUT_S}s", "--latency",
            "-s", str(script), load.url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=load.duration_s + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def _to_ms(value: str, unit: str) -> float:
    return float(value) * UNIT_MS[unit]


def parse_wrk(text: str) -> LoadResult:
    requests = re.search(r"(\d+) requests in", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.MULTILINE)
    if not (requests and rps and p50 and p99):
        raise RuntimeError(f"cannot read wrk's output:\n{text}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                        text)
    details = []
    errors = 0
    if non_2xx:
        errors += int(non_2xx.group(1))
        details.append(f"non-2xx {non_2xx.group(1)}")
    if sockets:
        errors += sum(int(count) for count in sockets.groups())
        details.append(sockets.group(0))
    return LoadResult(requests=int(requests.group(1)), rps=float(rps.group(1)),
                      p50_ms=_to_ms(*p50.groups()), p99_ms=_to_ms(*p99.groups()),
                      errors=errors, error_detail="; ".join(details))


def grpc_frame(message: bytes) -> bytes:
    """A gRPC length-prefixed message: uncompressed flag, 4-byte big-endian length, payload."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def run_h2load(load: Load, body: Path, log: Path, min_response_bytes: int) -> LoadResult:
    log.unlink(missing_ok=True)
    argv = ["taskset", "-c", str(load.cpu), "h2load", "-t1", f"-c{load.connections}", "-m1",
            f"-D{load.duration_s}", "-H", "content-type: application/grpc", "-H", "te: trailers",
            "-d", str(body), f"--log-file={log}", load.url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=load.duration_s + 60)
    if done.returncode != 0:
        raise RuntimeError(f"h2load failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_h2load(done.stdout, log.read_text(), min_response_bytes)


def parse_h2load(text: str, log: str, min_response_bytes: int) -> LoadResult:
    finished = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text)
    counts = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, "
                       r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
    data = re.search(r"traffic: .*\((\d+)\) data", text)
    if not (finished and counts and data):
        raise RuntimeError(f"cannot read h2load's output:\n{text}")
    succeeded, failed, errored, timeout = (int(count) for count in counts.groups())
    durations_ms, non_200 = _read_h2load_log(log)
    errors = failed + errored + timeout + non_200
    details = [f"failed {failed}, errored {errored}, timeout {timeout}, non-200 {non_200}"]
    per_answer = int(data.group(1)) / max(succeeded, 1)
    if per_answer < min_response_bytes:
        errors = max(errors, succeeded)  # HTTP 200 without a message: gRPC errors in trailers
        details.append(f"{per_answer:.0f} B of DATA per answer < {min_response_bytes}: "
                       "gRPC errors")
    return LoadResult(requests=succeeded, rps=float(finished.group(1)),
                      p50_ms=percentile(durations_ms, 0.50), p99_ms=percentile(durations_ms, 0.99),
                      errors=errors, error_detail="; ".join(details) if errors else "")


def _read_h2load_log(log: str) -> tuple[list[float], int]:
    """Durations in ms of the requests h2load logged, and how many were not HTTP 200."""
    durations_ms = []
    non_200 = 0
    for line in log.splitlines():
        _start, status, micros = line.split("\t")[:3]
        if status != "200":
            non_200 += 1
        durations_ms.append(int(micros) / 1000.0)
    return durations_ms, non_200


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]

"""The fuzzers of ``bench/reliability.py`` against one ``builtin:double`` server: schemathesis
against its ``/openapi.json`` with every check (the CLI, as tests/protocol/test_schemathesis.py
runs it), and the hypothesis strategies of tests/protocol/test_grpc_fuzz.py (random
ModelInferRequests and random bytes), run here in-process with a chosen number of examples.
Target: no answer is a server fault (5xx, INTERNAL, UNKNOWN) and the server stays healthy."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import grpc
from _reliability_attacks import GRPC_METHOD, grpc_call
from _reliability_load import infer_message
from _reliability_procs import Bench, Server
from _reliability_report import Row
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.protocol.test_grpc_fuzz import _requests as fuzz_requests

GRPC_FAULTS = frozenset({"INTERNAL", "UNKNOWN"})
SCHEMA_EXAMPLES = 6
"""Per operation and phase: ~350 cases, about 45 s on this machine."""


def grpc_fuzz(target: str, examples: int) -> Counter[str]:
    """Status names of ``examples`` random messages and ``examples`` random byte strings."""
    seen: Counter[str] = Counter()
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(GRPC_METHOD, request_serializer=None,
                                   response_deserializer=None)

        def send(payload: bytes) -> None:
            try:
                call(payload, timeout=10)
                seen["OK"] += 1
            except grpc.RpcError as error:
                seen[error.code().name] += 1

        fuzz = settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                        suppress_health_check=list(HealthCheck))
        fuzz(given(payload=fuzz_requests())(send))()
        fuzz(given(payload=st.binary(min_size=1, max_size=300))(send))()
    return seen


@dataclass(frozen=True)
class SchemaRun:
    generated: int
    passed: int
    failures: bool
    """Some check failed on an answer (the server's fault)."""
    tool_errors: str
    """Errors of schemathesis itself (its generator), as its summary counts them; '' when none."""


def schemathesis(url: str, examples: int, cwd: Path) -> SchemaRun:
    """Run the CLI; its whole output goes to ``cwd/schemathesis.txt``."""
    cli = Path(sys.executable).with_name("schemathesis")
    # One worker: CPython 3.11.7's AST check can fail in threads (gh-106905), as in CI.
    result = subprocess.run(
        [str(cli), "run", f"{url}/openapi.json", "--checks", "all", "--max-examples",
         str(examples), "--seed", "1", "--workers", "1", "--no-color",
         "--exclude-path-regex", "^/v2/repository/models/"],  # load/unload: not while fuzzing
        capture_output=True, text=True, timeout=300, cwd=cwd)
    (cwd / "schemathesis.txt").write_text(result.stdout + result.stderr)
    summary = result.stdout.rpartition("SUMMARY")[2]
    counts = re.search(r"(\d+) generated, (\d+) passed", summary)
    errors = re.findall(r"^\s+\W*\s*([A-Z][\w ]+: \d+)$",
                        summary.partition("Errors:")[2].partition("\n\n")[0], re.M)
    generated, passed = (int(counts.group(1)), int(counts.group(2))) if counts else (0, 0)
    return SchemaRun(generated, passed, "Failures:" in summary or not counts, ", ".join(errors))


def _healthy(server: Server) -> bool:
    status, _, _ = grpc_call(server.grpc_target, infer_message("double", [1.0] * 16), 10)
    return status == "OK"


def fuzzers(bench: Bench) -> list[Row]:
    grpc_examples = int(bench.pick(300, 60))
    with bench.server("fuzz", "builtin:double", "--max-batch-delay-ms", "1") as server:
        bench.say(f"fuzz: hypothesis gRPC, {grpc_examples} messages + {grpc_examples} byte "
                  "strings")
        seen = grpc_fuzz(server.grpc_target, grpc_examples)
        grpc_row = Row("fuzz: gRPC (hypothesis)", "sequential calls",
                       bad_inputs=str(sum(seen.values())),
                       server_errors=str(sum(seen[code] for code in GRPC_FAULTS)))
        grpc_row.notes.append(f"statuses {dict(seen.most_common())}; server healthy after: "
                              f"{_healthy(server)}")
        grpc_row.failed = grpc_row.server_errors != "0" or not _healthy(server)
        bench.say(f"  {grpc_row.notes[0]}")
        schema_row = _schemathesis_row(bench, server)
        tracebacks = server.tracebacks()
    for row in (grpc_row, schema_row):
        row.notes.append(f"{tracebacks} tracebacks in the server log")
        row.failed |= tracebacks > 0
    return [grpc_row, schema_row]


def _schemathesis_row(bench: Bench, server: Server) -> Row:
    row = Row("fuzz: REST (schemathesis, all checks)", "1 worker")
    if bench.quick:  # its generator needs ~2 s a case here: too slow for --quick
        row.notes.append("not run with --quick (the full run and "
                         "tests/protocol/test_schemathesis.py run it)")
        return row
    bench.say(f"fuzz: schemathesis, {SCHEMA_EXAMPLES} examples per operation and phase")
    run = schemathesis(server.url, SCHEMA_EXAMPLES, bench.log_dir)
    row.bad_inputs = str(run.generated)
    row.server_errors = "0" if not run.failures else "see schemathesis.txt"
    row.notes.append(f"{run.generated} cases generated, {run.passed} passed every check"
                     + (f"; schemathesis's own generator failed ({run.tool_errors}): a tool "
                        "error, no answer involved (schemathesis.txt next to the server logs)"
                        if run.tool_errors else ""))
    row.failed = run.failures or not _healthy(server)
    bench.say(f"  {row.notes[0]}")
    return row

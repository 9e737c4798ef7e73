"""Request arrival traces: when each request comes, and optionally how big it is.

One shape for every source, so the load generator and the simulator replay the same traffic:
a :class:`Trace` holds sorted arrival offsets in seconds from 0 and, where the source knows it,
a per-request size (tokens, rows). Everything here is a pure function of its arguments and a
seed; nothing reads a clock or a global random state.

    trace = read_trace(Path("azure_llm_2023_conv.csv"), speedup=10)   # format from the header
    trace = step(rate=50, to_rate=300, at_s=60, duration_s=180, seed=1)
    trace = scaled(trace, rate_scale=2.0, seed=1)

File formats (detected from the first line):

- **timestamps**: one arrival per line, seconds (any origin; shifted to start at 0) or an ISO
  date-time, with an optional second column of sizes and an optional header line.
- **Azure LLM inference trace 2023**: header ``TIMESTAMP,ContextTokens,GeneratedTokens``; the
  size of a request is ContextTokens + GeneratedTokens. Credit: :data:`AZURE_LLM_CREDIT`.
- **Azure Functions 2019** invocation counts: header ``HashOwner,HashApp,HashFunction,Trigger,
  1,2,...,1440``; the counts of all rows are summed per minute, and the arrivals inside a minute
  are drawn as a Poisson process conditioned on that minute's count (uniform order statistics),
  because the source gives counts, not times. Credit: :data:`AZURE_FUNCTIONS_CREDIT`.

Shipped traces (:data:`BUNDLED`, in ``ebb/traces/data`` with their credit): the Azure LLM
inference trace 2023, so every example works from a fresh clone or a wheel.

A bad file raises :class:`TraceError` (a ``ValueError``) naming the file and the line.
"""


from ebb.traces._azure import (
    AZURE_FUNCTIONS_CREDIT,
    AZURE_LLM_CREDIT,
    parse_azure_functions,
    parse_azure_llm,
)
from ebb.traces._files import BUNDLED, bundled_trace, parse_timestamps, read_trace
from ebb.traces._model import Spacing, Trace, TraceError
from ebb.traces._synthetic import SYNTHETIC, bursty, constant, ramp, sine, spike, step, synthetic
from ebb.traces._transform import scaled, window

__all__ = [
    "AZURE_FUNCTIONS_CREDIT",
    "AZURE_LLM_CREDIT",
    "BUNDLED",
    "SYNTHETIC",
    "Spacing",
    "Trace",
    "TraceError",
    "bundled_trace",
    "bursty",
    "constant",
    "parse_azure_functions",
    "parse_azure_llm",
    "parse_timestamps",
    "ramp",
    "read_trace",
    "scaled",
    "sine",
    "spike",
    "step",
    "synthetic",
    "window",
]

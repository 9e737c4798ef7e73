"""``ebb`` with parts of its per-request bookkeeping switched off, for ``bench/ablation.py`` only.

``python bench/ablated_ebb.py --ablate metrics,statistics,recording serve builtin:double ...``
patches the named parts to no-ops, then runs the normal ``ebb`` command line:

- ``metrics``: the Prometheus request and batch instruments and the dashboard's per-request feed;
- ``statistics``: the inference hooks (the statistics extension's per-request record);
- ``recording``: the per-call status and timer of ``ebb.protocol.recording``.

Never a way to serve: a server without these is blind. It measures what each costs.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

PARTS = ("metrics", "statistics", "recording")


def _nothing(*_args: Any) -> None:
    return None


def ablate(parts: set[str]) -> None:
    if "metrics" in parts:
        from ebb.app import observers
        from ebb.metrics import instruments

        instruments.ServingMetrics.request_done = _nothing  # type: ignore[method-assign]
        instruments.ServingMetrics.batch_done = _nothing  # type: ignore[method-assign]
        observers.DashboardRecorder.request_done = _nothing  # type: ignore[method-assign]
        observers.DashboardRecorder.batch_done = _nothing  # type: ignore[method-assign]
    if "statistics" in parts:
        from ebb.repository import dispatcher

        keep = dispatcher.RepositoryDispatcher.set_hooks
        dispatcher.RepositoryDispatcher.set_hooks = (  # type: ignore[method-assign]
            lambda self, hooks: keep(self, ()))
    if "recording" in parts:
        from ebb.protocol import recording

        recording.InferRecording.__call__ = (  # type: ignore[method-assign]
            lambda self, model, protocol: contextlib.nullcontext())


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "--ablate":
        print("usage: ablated_ebb.py --ablate PART[,PART...] serve ...", file=sys.stderr)
        return 2
    parts = {part for part in argv[1].split(",") if part and part != "none"}
    unknown = parts - set(PARTS)
    if unknown:
        print(f"unknown part(s) {', '.join(sorted(unknown))}; parts: {', '.join(PARTS)}",
              file=sys.stderr)
        return 2
    ablate(parts)
    from ebb.cli import main as ebb_main

    return ebb_main(argv[2:])


if __name__ == "__main__":  # the worker processes import this module too: only the gateway runs
    sys.exit(main(sys.argv[1:]))

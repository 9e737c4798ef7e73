"""How each compared server is started: Ebb (this checkout or a baseline), KServe, Triton, raw."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import triton_setup
from _serving_procs import ServerSpec, free_port
from _serving_report import EBB_BEFORE, RAW_ASGI, RAW_GRPC, RAW_PROTOCOL, TRITON

BENCH = Path(__file__).resolve().parent
SLEEP_MS, PER_ITEM_MS = 2.0, 0.05


@dataclass(frozen=True)
class Triton:
    """Triton prepared by ``triton_setup``, and the model repository it serves."""

    server: triton_setup.Triton
    repository: Path
    version: str


def ebb_spec(model: str, flags: Sequence[str], baseline: Path | None = None) -> ServerSpec:
    """Ebb from this checkout, or with ``baseline`` from another source tree ("Ebb before")."""
    http, grpc_port = free_port(), free_port()
    argv = [sys.executable, "-m", "ebb", "serve", model, "--http-port", str(http),
            "--grpc-port", str(grpc_port), *flags]
    if baseline is None:
        return ServerSpec("Ebb", argv, http, grpc_port, health_path="/v2/health/ready")
    env = {**os.environ, "PYTHONPATH": str(baseline)}
    return ServerSpec(EBB_BEFORE, argv, http, grpc_port, health_path="/v2/health/ready", env=env)


def kserve_spec(python: Path, model: str) -> ServerSpec:
    http, grpc_port = free_port(), free_port()
    argv = [str(python), str(BENCH / "kserve_double.py"), "--model", model,
            "--http-port", str(http), "--grpc-port", str(grpc_port),
            "--sleep-ms", str(SLEEP_MS), "--per-item-ms", str(PER_ITEM_MS)]
    return ServerSpec("KServe", argv, http, grpc_port, health_path="/v2/health/ready")


def triton_spec(triton: Triton) -> ServerSpec:
    http, grpc_port = free_port(), free_port()
    argv = triton.server.argv(triton.repository, http, grpc_port)
    return ServerSpec(TRITON, argv, http, grpc_port, health_path="/v2/health/ready",
                      env=triton.server.env)


def raw_asgi_spec() -> ServerSpec:
    http = free_port()
    argv = [sys.executable, str(BENCH / "raw_asgi.py"), "--port", str(http)]
    return ServerSpec(RAW_ASGI, argv, http, None)


def raw_grpc_spec() -> ServerSpec:
    grpc_port = free_port()
    argv = [sys.executable, str(BENCH / "raw_grpc.py"), "--port", str(grpc_port)]
    return ServerSpec(RAW_GRPC, argv, None, grpc_port)


def raw_protocol_spec() -> ServerSpec:
    http = free_port()
    argv = [sys.executable, str(BENCH / "raw_protocol.py"), "--port", str(http)]
    return ServerSpec(RAW_PROTOCOL, argv, http, None)

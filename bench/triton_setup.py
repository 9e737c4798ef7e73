"""NVIDIA Triton 2.51 for ``bench/serving.py``: its venv, a model repository, and how to start it.

Triton comes from the ``nvidia-pytriton`` 0.7.0 wheel, which bundles ``tritonserver`` 2.51 and
its python backend, installed into ``bench/.venv-triton`` (created on first use, gitignored).
PyTriton itself is not used: the benchmark runs the bare server on a model repository this
script writes, with Ebb's two benchmark models in Triton's python backend:

- ``double``: FP32 [-1, 16] -> x2, dynamic batching with no queue delay (a batch is whatever
  waits when the model instance is free), the requests of a batch concatenated, run once and
  split back, as a batching Python model does in Ebb;
- ``sleep``: answers its input after ``time.sleep(2 ms + 0.05 ms x rows)`` per batch, the cost
  of Ebb's ``builtin:sleep``; same dynamic batching, up to 64 rows.

Starting it on Debian 12 without a GPU: the python backend's stub (one per Python version in
``pytriton/tritonserver/python_backend_stubs/<X.Y>/``) goes into the backend directory, and
``LD_LIBRARY_PATH`` holds the venv's Python ``LIBDIR`` (the stub links ``libpython3.X.so``) and
the wheel's ``nvidia_pytriton.libs``; ``PATH`` starts with the venv's ``bin`` (see ``prepare``).

Usage: ``.venv/bin/python bench/triton_setup.py`` prepares everything and prints the command;
``--serve`` also starts Triton in the foreground (HTTP 8000, gRPC 8001 unless told otherwise).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venv-triton"
REQUIREMENT = "nvidia-pytriton==0.7.0"
SLEEP_MS, PER_ITEM_MS = 2.0, 0.05
MAX_BATCH = 64

_CONFIG = """name: "{name}"
backend: "python"
max_batch_size: {max_batch}
input [ {{ name: "INPUT0" data_type: TYPE_FP32 dims: [ 16 ] }} ]
output [ {{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 16 ] }} ]
dynamic_batching {{ max_queue_delay_microseconds: 0 }}
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
"""

_MODEL = '''"""Written by bench/triton_setup.py: Ebb's {name!r} in Triton's python backend."""

import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        parts = [pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy() for r in requests]
        batch = np.concatenate(parts) if len(parts) > 1 else parts[0]
        outputs = {compute}
        responses = []
        offset = 0
        for part in parts:
            rows = part.shape[0]
            tensor = pb_utils.Tensor("OUTPUT0", outputs[offset:offset + rows])
            responses.append(pb_utils.InferenceResponse(output_tensors=[tensor]))
            offset += rows
        return responses
'''

_COMPUTE = {
    "double": "batch * np.float32(2)",
    "sleep": f"(time.sleep(({SLEEP_MS} + {PER_ITEM_MS} * batch.shape[0]) / 1000), batch)[1]",
}


@dataclass(frozen=True)
class Triton:
    """A prepared Triton: the binary, its backend directory and the environment it needs."""

    binary: Path
    backends: Path
    env: dict[str, str]

    def argv(self, repository: Path, http_port: int, grpc_port: int) -> list[str]:
        return [str(self.binary), f"--model-repository={repository}",
                f"--backend-directory={self.backends}", "--http-address=127.0.0.1",
                f"--http-port={http_port}", "--grpc-address=127.0.0.1",
                f"--grpc-port={grpc_port}", "--allow-metrics=false", "--log-verbose=0",
                "--strict-readiness=true"]


def venv_python(venv: Path = VENV) -> Path:
    return venv / "bin" / "python"


def _probe(python: Path, code: str) -> str | None:
    if not python.exists():
        return None
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_venv(install: bool, venv: Path = VENV) -> Path:
    """The venv's Python with the wheel installed; creates it on first use."""
    python = venv_python(venv)
    version = _probe(python, "from importlib import metadata; "
                             "print(metadata.version('nvidia-pytriton'))")
    if version == REQUIREMENT.split("==")[1]:
        return python
    if not install:
        raise SystemExit(f"no {REQUIREMENT} in {venv}; run without --skip-triton-install")
    print(f"creating {venv} and installing {REQUIREMENT} (first run only)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(python), "-m", "pip", "install", "-q", REQUIREMENT], check=True,
                   timeout=1800)
    return python


def prepare(python: Path, venv: Path = VENV) -> Triton:
    """The backend directory with the stub for the venv's Python, and the server's environment."""
    facts = _probe(python, "import sys, sysconfig, pytriton, pathlib; "
                           "print(sysconfig.get_config_var('LIBDIR')); "
                           "print(f'{sys.version_info[0]}.{sys.version_info[1]}'); "
                           "print(pathlib.Path(pytriton.__file__).parent)")
    if facts is None:
        raise SystemExit(f"{python} cannot import pytriton")
    libdir, version, package = facts.splitlines()
    dist = Path(package) / "tritonserver"
    backends = venv / "triton-backends"
    python_backend = backends / "python"
    python_backend.mkdir(parents=True, exist_ok=True)
    for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
        _install(dist / "backends" / "python" / name, python_backend / name)
    _install(dist / "python_backend_stubs" / version / "triton_python_backend_stub",
             python_backend / "triton_python_backend_stub")
    libs = Path(package).parent / "nvidia_pytriton.libs"
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join(
        part for part in (libdir, str(libs), env.get("LD_LIBRARY_PATH", "")) if part)
    # The stub embeds Python and ignores PYTHONPATH, but finds its interpreter through PATH:
    # with the venv's bin first it takes the venv's site-packages (numpy < 2, as the wheel
    # needs) instead of the base Python's.
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    env["OMP_NUM_THREADS"] = "1"
    return Triton(dist / "bin" / "tritonserver", backends, env)


def _install(source: Path, target: Path) -> None:
    """Copy unless already there; by rename, so that a running server's stub is not touched."""
    if target.exists() and filecmp.cmp(source, target, shallow=False):
        return
    partial = target.with_suffix(".partial")
    shutil.copy2(source, partial)
    os.replace(partial, target)


def write_repository(root: Path) -> Path:
    """The model repository: ``double`` and ``sleep``, version 1 each."""
    for name, compute in _COMPUTE.items():
        version = root / name / "1"
        version.mkdir(parents=True, exist_ok=True)
        (root / name / "config.pbtxt").write_text(_CONFIG.format(name=name, max_batch=MAX_BATCH))
        (version / "model.py").write_text(_MODEL.format(name=name, compute=compute))
    return root


def version_of(python: Path) -> str:
    return _probe(python, "from importlib import metadata; "
                          "print(metadata.version('nvidia-pytriton'))") or "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repository", type=Path, default=VENV / "models")
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--serve", action="store_true", help="start Triton in the foreground")
    args = parser.parse_args()
    triton = prepare(ensure_venv(install=True))
    argv = triton.argv(write_repository(args.repository), args.http_port, args.grpc_port)
    print(f"PATH={triton.env['PATH']} LD_LIBRARY_PATH={triton.env['LD_LIBRARY_PATH']} "
          f"{' '.join(argv)}")
    if args.serve:
        os.execve(argv[0], argv, triton.env)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Worker process lifetime: they die with the gateway, however it dies (SIGKILL included).

The chain is gateway -> multiprocessing fork server -> workers. Each worker hands the fork
server's "alive" pipe on (multiprocessing does that), so the fork server does not notice the
gateway's death while a worker lives, and a worker stuck in a hung model never reads the EOF
on its socket: without help, both stay behind as orphans. So each link asks the kernel to
SIGKILL it when its parent dies (``PR_SET_PDEATHSIG``): the fork server when the gateway dies
(``arm_fork_server``, run by importing ``ebb.serving.fork_server_guard``, which the fork server
preloads), each worker when the fork server dies (``die_with_parent``). A worker stuck in a
model's C code dies too, which no watcher thread could promise. If the parent died before the
request took effect, the process exits at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from typing import Any

_PR_SET_PDEATHSIG = 1


def die_with_parent(gateway_pid: int) -> bool:
    """In a worker: SIGKILL when the parent (the fork server) dies; exit now if the gateway is
    already gone. Returns whether the kernel took the request (Linux only; else a no-op)."""
    armed = _pdeathsig()
    if not _alive(gateway_pid):
        os._exit(1)
    return armed


def arm_fork_server() -> bool:
    """In the fork server, while it preloads: SIGKILL when the gateway dies. Does nothing in
    any other process (the check: Python started with ``-c`` by multiprocessing's fork server
    launcher), so that importing the guard module elsewhere is harmless."""
    if sys.argv != ["-c"] or "multiprocessing.forkserver" not in sys.modules:
        return False
    parent = os.getppid()
    armed = _pdeathsig()
    if os.getppid() != parent:
        os._exit(1)
    return armed


def start_fork_server() -> None:
    """Start the workers' fork server now, from the calling thread, which must be the
    gateway's main thread: the parent-death signal follows the thread that started a process,
    and an executor thread may end before the gateway does."""
    from multiprocessing import forkserver

    forkserver.ensure_running()


def _pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return bool(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap(process: Any) -> None:
    """Wait for a stopping worker to exit; SIGKILL it if it has not within 5 s."""
    if process.pid is None:
        return
    process.join(timeout=5)  # workers ignore SIGTERM (see worker_main): no use sending one
    if process.is_alive():
        process.kill()
        process.join()

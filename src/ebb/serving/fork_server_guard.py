"""Preloaded by the worker fork server (``ebb.serving.workers.worker_context``): importing it
there makes the fork server die with the gateway (``ebb.serving.lifeline.arm_fork_server``).

This module exists for its import side effect, the only hook multiprocessing gives into the fork
server's start; in any other process the call does nothing.
"""

from __future__ import annotations

from ebb.serving.lifeline import arm_fork_server

arm_fork_server()

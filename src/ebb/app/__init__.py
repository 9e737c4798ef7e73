"""The app factory: ``EbbServer`` wires serving, protocol adapters, metrics, dashboard and
autoscaling together from validated settings, and runs their lifecycle.

    server = EbbServer(settings, [resolve(settings.model, None, False)], MonotonicClock())
    ports = await server.start()
    ...
    await server.stop()
"""

from __future__ import annotations

from ebb.app.ports import BoundPorts
from ebb.app.server import EbbServer

__all__ = ["BoundPorts", "EbbServer"]

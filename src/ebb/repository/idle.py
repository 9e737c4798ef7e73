"""``--idle-unload-s``: unload models no request used for a while, so a node can host more
models than fit at once (with ``--load-on-demand`` they load again on their next request)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ebb.core.errors import EbbError
from ebb.repository.manager import ModelRepository

log = logging.getLogger("ebb.repository")


def check_interval_s(idle_s: float) -> float:
    """Look a few times per idle period, at most once a second and at least every 10 s."""
    return min(max(idle_s / 4, 1.0), 10.0)


async def unload_idle(repository: ModelRepository, idle_s: float,
                      stopping: asyncio.Event) -> None:
    interval_s = check_interval_s(idle_s)
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval_s)
        if stopping.is_set():
            return
        for name in repository.idle_models(idle_s, int(time.time() * 1000)):
            log.info("model %s: no request for %g s (--idle-unload-s); unloading", name, idle_s)
            try:
                await repository.unload(name)
            except EbbError as error:  # unloaded meanwhile by an admin
                log.debug("model %s: idle unload skipped: %s", name, error.message)

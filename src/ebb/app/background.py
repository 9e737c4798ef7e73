"""The server's background loops, all stopped by one ``stopping`` event.

    background = Background()
    background.spawn(controller.run(background.stopping), "autoscaler m")
    await background.stop()     # sets the event, then waits for every loop to return

A loop that raises is logged once when it ends; it does not take the server down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("ebb.app")


class Background:
    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []

    def spawn(self, loop: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run `loop` (which must return soon after ``stopping`` is set) until ``stop``."""
        task = asyncio.create_task(loop, name=name)
        task.add_done_callback(_log_failure)
        self._tasks.append(task)
        return task

    async def stop(self) -> None:
        self.stopping.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s stopped: %s", task.get_name(), task.exception())

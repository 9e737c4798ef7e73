"""Run a coroutine that never suspends, without an event loop.

The scaling seams are async so that live sources can await the network, but the simulator's
sources and actuators answer from memory at once. ``run_sync`` lets the simulator drive the same
``Controller.step`` on its virtual clock with no loop and no thread:

    decision = run_sync(controller.step())
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class WouldBlock(RuntimeError):
    """The coroutine awaited something that suspends: it needs a real event loop."""


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """The coroutine's result, when it completes without suspending; else ``WouldBlock``."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise WouldBlock("a coroutine driven by run_sync suspended; its awaitables must answer at "
                     "once (use an event loop for network sources)")

"""Scale the worker processes of a gateway in this process."""

from __future__ import annotations

from collections.abc import Callable


class LocalActuator:
    """Adds workers at once and drains surplus ones (each finishes its batch first)."""

    def __init__(self, scale_to: Callable[[int], None]) -> None:
        self._scale_to = scale_to

    async def apply(self, desired_workers: int) -> None:
        self._scale_to(desired_workers)

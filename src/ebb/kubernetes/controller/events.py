"""Kubernetes Events on the scale target: what ``kubectl describe`` shows a user.

Events are posted only when something changes (a new count, a new refusal), and the same reason
at most once per ``min_interval_s``, so a flapping signal cannot flood the API server; the log
keeps every decision. A failed post is logged and dropped: events are advice, not state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal

from ebb.core.clock import Clock
from ebb.kubernetes.controller.api import ApiError, EventSpec, KubeApi, ObjectRef

log = logging.getLogger("ebb.kubernetes.controller")


class EventRecorder:
    def __init__(self, api: KubeApi, namespace: str, regarding: ObjectRef, instance: str,
                 clock: Clock, min_interval_s: float = 10.0,
                 wall: Callable[[], float] = time.time) -> None:
        self._api, self._namespace, self._regarding = api, namespace, regarding
        self._instance, self._clock, self._wall = instance, clock, wall
        self._min_interval_s = min_interval_s
        self._last: dict[str, tuple[str, float]] = {}

    def due(self, reason: str, note: str) -> bool:
        """A new note for this reason, and the reason's last event long enough ago."""
        last = self._last.get(reason)
        if last is None:
            return True
        return last[0] != note and self._clock.now() - last[1] >= self._min_interval_s

    async def post(self, kind: Literal["Normal", "Warning"], reason: str, note: str,
                   action: str) -> bool:
        """Post unless rate-limited or unchanged; True when posted."""
        if not self.due(reason, note):
            return False
        self._last[reason] = (note, self._clock.now())
        event = EventSpec(self._regarding, kind, reason, note, action, self._instance,
                          self._wall())
        try:
            await self._api.create_event(self._namespace, event)
        except ApiError as error:
            log.warning("could not post event %s: %s", reason, error)
            return False
        return True

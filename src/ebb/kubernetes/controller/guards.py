"""Whether this controller may write the target's replicas at all (SPEC §2(b), §4.2).

- An HPA whose ``scaleTargetRef`` is the Deployment (KEDA's ``keda-hpa-<name>`` is one) already
  writes it: two writers fight. The controller then advises: it writes nothing, keeps exporting
  its desired count, sets ``ebb_controller_conflict 1`` and posts one Warning event.
- An InferenceService must carry ``serving.kserve.io/autoscalerClass: external``; with any
  other class KServe (or its HPA/KEDA) owns the replicas, and ``none`` reverts every write.
- Another field manager wrote ``spec.replicas`` within ``back_off_s`` (its ``managedFields``
  entry owns the field: ``kubectl scale``, a GitOps tool re-applying a manifest that sets
  replicas). An operator's override wins for that long instead of being undone within a tick,
  and a tool that keeps writing is reported (a Warning event each time) instead of fought.
Checked before every write and every ``refresh_s`` in the background, so the conflict gauge is
current even while nothing is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from ebb.kubernetes.controller.api import FIELD_MANAGER, ApiError, KubeApi, ReplicasWriter
from ebb.kubernetes.controller.events import EventRecorder
from ebb.kubernetes.controller.settings import Target

log = logging.getLogger("ebb.kubernetes.controller")

CLASS_ANNOTATION = "serving.kserve.io/autoscalerClass"


class ConflictObserver(Protocol):
    def conflict(self, present: bool) -> None: ...


def recent_other_writer(writers: list[ReplicasWriter], now: float, back_off_s: float
                        ) -> ReplicasWriter | None:
    """The latest manager other than ours that wrote ``spec.replicas`` in the last
    ``back_off_s`` seconds, if any."""
    recent = [w for w in writers if w.manager != FIELD_MANAGER and now - w.at < back_off_s]
    return max(recent, key=lambda w: w.at) if recent else None


def back_off_message(writer: ReplicasWriter, deployment: str, back_off_s: float) -> str:
    """The same words for as long as one write is backed off from (logged and posted once)."""
    how = f"{writer.operation} through /{writer.subresource}" if writer.subresource \
        else writer.operation
    at = datetime.fromtimestamp(writer.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f"field manager {writer.manager!r} ({how}) wrote spec.replicas of deployment "
            f"{deployment} at {at}; not scaling until {back_off_s:g} s after that "
            f"(--back-off-s); if it should not set replicas, remove them from its manifest")


class Guards:
    def __init__(self, api: KubeApi, namespace: str, target: Target, events: EventRecorder,
                 observer: ConflictObserver, back_off_s: float = 60.0,
                 wall: Callable[[], float] = time.time) -> None:
        self._api, self._namespace, self._target = api, namespace, target
        self._events, self._observer = events, observer
        self._back_off_s, self._wall = back_off_s, wall
        self.refusal: str | None = None
        """Why writes are refused right now (None: they are allowed)."""

    async def _why_not(self) -> tuple[str, str] | None:
        """(reason, message) when another writer owns the replicas, else None."""
        deployment = self._target.deployment
        if self._target.kind == "inferenceservice":
            annotations = await self._api.get_inference_service_annotations(
                self._namespace, self._target.name)
            if annotations is None:
                return "TargetMissing", f"InferenceService {self._target.name} not found"
            found = annotations.get(CLASS_ANNOTATION, "hpa")
            if found != "external":
                return ("AutoscalerClass",
                        f"InferenceService {self._target.name} has {CLASS_ANNOTATION}: {found};"
                        " set it to external for ebb controller to scale it; not scaling")
        for hpa in await self._api.list_hpa_targets(self._namespace):
            if hpa.kind == "Deployment" and hpa.name == deployment:
                return ("AdviseOnly",
                        f"HorizontalPodAutoscaler {hpa.hpa} also scales deployment "
                        f"{deployment}; advising only (see ebb_desired_replicas)")
        if self._back_off_s > 0:
            now = self._wall()
            writers = await self._api.replicas_writers(self._namespace, deployment)
            other = recent_other_writer(writers, now, self._back_off_s)
            if other is not None:
                return "BackOff", back_off_message(other, deployment, self._back_off_s)
        return None

    async def may_write(self) -> bool:
        try:
            why = await self._why_not()
        except ApiError as error:
            log.warning("cannot check for other autoscalers: %s; not writing", error)
            return False
        self._observer.conflict(why is not None and why[0] in ("AdviseOnly", "BackOff"))
        message = why[1] if why else None
        if message != self.refusal:
            if why is not None:
                log.warning("%s", why[1])
                await self._events.post("Warning", why[0], why[1], "Scale")
            elif self.refusal is not None:
                log.info("no other autoscaler on %s any more; acting", self._target)
            self.refusal = message
        return why is None

    async def run(self, stopping: asyncio.Event, refresh_s: float = 15.0) -> None:
        while not stopping.is_set():
            await self.may_write()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), refresh_s)

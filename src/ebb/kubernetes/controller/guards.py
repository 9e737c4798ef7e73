"""Whether this controller may write the target's replicas at all (SPEC §2(b), §4.2).

- An HPA whose ``scaleTargetRef`` is the Deployment (KEDA's ``keda-hpa-<name>`` is one) already
  writes it: two writers fight. The controller then advises: it writes nothing, keeps exporting
  its desired count, sets ``ebb_controller_conflict 1`` and posts one Warning event.
- An InferenceService must carry ``serving.kserve.io/autoscalerClass: external``; with any
  other class KServe (or its HPA/KEDA) owns the replicas, and ``none`` reverts every write.
Checked before every write and every ``refresh_s`` in the background, so the conflict gauge is
current even while nothing is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from ebb.kubernetes.controller.api import ApiError, KubeApi
from ebb.kubernetes.controller.events import EventRecorder
from ebb.kubernetes.controller.settings import Target

log = logging.getLogger("ebb.kubernetes.controller")

CLASS_ANNOTATION = "serving.kserve.io/autoscalerClass"


class ConflictObserver(Protocol):
    def conflict(self, present: bool) -> None: ...


class Guards:
    def __init__(self, api: KubeApi, namespace: str, target: Target, events: EventRecorder,
                 observer: ConflictObserver) -> None:
        self._api, self._namespace, self._target = api, namespace, target
        self._events, self._observer = events, observer
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
        return None

    async def may_write(self) -> bool:
        try:
            why = await self._why_not()
        except ApiError as error:
            log.warning("cannot check for other autoscalers: %s; not writing", error)
            return False
        self._observer.conflict(why is not None and why[0] == "AdviseOnly")
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
